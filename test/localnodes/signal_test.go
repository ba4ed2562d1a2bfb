package localnodes

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/proc"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// TestSignalOnLocalNode: a real job on a local node, run by the shipped
// agent, whose script traps USR1 and USR2 and has a child in its process
// group trapping them too. `flotilla signal -s USR1 JOB` (the flotilla
// binary against a real hub) makes both write their file exactly once;
// `flotilla signal -s USR2 --batch JOB` reaches only the head's main
// process; a later USR1 reaches both again (each request delivered once,
// in order); the job log says "flotilla: signal USR1 delivered (request
// 1)"; TERM through `flotilla cancel --signal` ends the script, which
// exits 0: the job completes.
func TestSignalOnLocalNode(t *testing.T) {
	needLocalNodes(t)
	flotilla, err := proc.FindBin("flotilla")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h := startHubAndNodes(t, ctx, "signal", "fg", "10.231.0.0/24", "sig-l0")
	hubs, env, id, pub, shared := h.hubs, h.env, h.id, h.pub, h.shared
	script := filepath.Join(pub, "trapper-"+id+".sh")
	writeExec(t, script, `#!/bin/sh
sh -c 'trap "echo usr1 >> /shared/child" USR1; trap "echo usr2 >> /shared/child" USR2; trap "exit 0" TERM
touch /shared/child-ready; while :; do sleep 0.1; done' &
trap 'echo usr1 >> /shared/main' USR1
trap 'echo usr2 >> /shared/main' USR2
trap 'echo stopping; wait; exit 0' TERM
touch /shared/main-ready
echo trapping
while :; do sleep 0.1; done
`)

	admin := hubs.Client(hubs.AdminKey)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	must(admin.PutCluster(ctx, "signal", &structs.ClusterSpec{}))
	must(admin.PutMachineType(ctx, &structs.MachineType{Name: "l4", Cores: 4, Slots: 4, RAM: 1, ScaleMin: 1, ScaleMax: 1,
		Cluster: "signal", Properties: Label + "=true", Devices: shared + "=/shared:rw"}))
	must(admin.PutApp(ctx, &structs.App{Name: "trapper", Visibility: structs.VisibilityPublic, Image: "debian:stable",
		AppDef: structs.AppDef{Name: "trapper", Commands: map[string]structs.Command{"run": {Path: script, Name: "Run"}}}}))
	must(admin.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}))
	key, err := admin.CreateAPIKey(ctx, "alice", "signal")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateBootstrapToken(ctx, "signal")
	if err != nil {
		t.Fatal(err)
	}
	alice := hubs.Client(key.Key)
	procenv.StartAgent(t, procenv.AgentOptions{Cluster: "signal", HubURLs: hubs.URLs(), Kubeconfig: env.Kubeconfig,
		BootstrapToken: tok.Key, Args: []string{"-live-tail-every=300ms", "-pod-security=privileged"}}) // host binds
	cli := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, flotilla, args...)
		cmd.Env = []string{"FLOTILLA_HUB=" + strings.Join(hubs.URLs(), ","), "FLOTILLA_API_KEY=" + key.Key,
			"FLOTILLA_CA_FILE=" + hubs.CAFile, "PATH=/usr/bin:/bin"}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
	signal := func(args ...string) {
		t.Helper()
		if out, errs, code := cli(args...); code != 0 {
			t.Fatalf("flotilla %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
	}

	j, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "trapper", Command: "run", MachineType: "l4", Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	num := strconv.FormatUint(j.Number, 10)
	waitFor(ctx, t, "the job running with its child ready", func() bool {
		cur, err := alice.GetJob(ctx, j.ID, false)
		if err == nil && cur.State.IsTerminal() {
			t.Fatalf("job ended early: %s %s %q", cur.State, cur.Substatus, cur.LogTail)
		}
		_, e1 := os.Stat(filepath.Join(shared, "main-ready"))
		_, e2 := os.Stat(filepath.Join(shared, "child-ready"))
		return err == nil && cur.State == structs.JobRunning && e1 == nil && e2 == nil
	})
	lines := func(name, line string) int {
		b, _ := os.ReadFile(filepath.Join(shared, name))
		return strings.Count(string(b), line+"\n")
	}

	signal("signal", "-s", "USR1", num)
	waitFor(ctx, t, "USR1 written by the script and its child", func() bool { return lines("main", "usr1") == 1 && lines("child", "usr1") == 1 })
	signal("signal", "-s", "USR2", "--batch", num)
	waitFor(ctx, t, "USR2 written by the main process", func() bool { return lines("main", "usr2") == 1 })
	signal("signal", "-s", "USR1", num)
	waitFor(ctx, t, "the second USR1 written by both", func() bool { return lines("main", "usr1") == 2 && lines("child", "usr1") == 2 })
	if n := lines("child", "usr2"); n != 0 {
		t.Errorf("the --batch USR2 reached the child %d times", n)
	}
	waitFor(ctx, t, "the deliveries in the job log", func() bool {
		cur, err := alice.GetJob(ctx, j.ID, false)
		return err == nil && strings.Contains(cur.LogTail, "flotilla: signal USR1 delivered (request 1)\n") &&
			strings.Contains(cur.LogTail, "flotilla: signal USR2 delivered (request 2)\n") &&
			strings.Contains(cur.LogTail, "flotilla: signal USR1 delivered (request 3)\n")
	})
	signal("cancel", "--signal", "TERM", num)
	var end *structs.Job
	waitFor(ctx, t, "the job completed after TERM", func() bool {
		cur, err := alice.GetJob(ctx, j.ID, false)
		end = cur
		return err == nil && cur.State.IsTerminal()
	})
	if end.State != structs.JobCompleted || !strings.Contains(end.LogTail, "flotilla: signal TERM delivered (request 4)\n") {
		t.Errorf("ended %s (%s), final tail %q", end.State, end.Substatus, end.LogTail)
	}
	for name, want := range map[string]int{"main usr1": lines("main", "usr1"), "child usr1": lines("child", "usr1"), "main usr2": lines("main", "usr2")} {
		if (name == "main usr2" && want != 1) || (name != "main usr2" && want != 2) {
			t.Errorf("%s written %d times", name, want)
		}
	}
	if len(end.Signals) != 4 {
		t.Errorf("the job records %d requests, want 4: %+v", len(end.Signals), end.Signals)
	}
}
