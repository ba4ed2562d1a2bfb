package localnodes

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/proc"
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
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rig := startSignalRig(t, ctx, "signal", "fg", "10.231.0.0/24", "sig-l0", `#!/bin/sh
sh -c 'trap "echo usr1 >> /shared/child" USR1; trap "echo usr2 >> /shared/child" USR2; trap "exit 0" TERM
touch /shared/child-ready; while :; do sleep 0.1; done' &
trap 'echo usr1 >> /shared/main' USR1
trap 'echo usr2 >> /shared/main' USR2
trap 'echo stopping; wait; exit 0' TERM
touch /shared/main-ready
echo trapping
while :; do sleep 0.1; done
`)
	alice, shared := rig.alice, rig.shared
	signal := func(args ...string) {
		t.Helper()
		if out, errs, code := rig.cli(args...); code != 0 {
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

// signalRig is a hub, a control plane with one local node and its agent,
// a tenant with the user alice, a machine type l4 of the whole node with
// the shared directory at /shared, and the app "trapper" whose command
// "run" is a script: what the signal tests share.
type signalRig struct {
	*hubAndNodes
	alice  *client.Client
	key    string // alice's API key
	script string // the app's command on the host
	cli    func(args ...string) (stdout, stderr string, code int)
}

// startSignalRig starts it on cluster name (prefix and subnet as
// startHubAndNodes takes them) with the script body.
func startSignalRig(t *testing.T, ctx context.Context, name, prefix, subnet, node, body string) *signalRig {
	t.Helper()
	flotilla, err := proc.FindBin("flotilla")
	if err != nil {
		t.Fatal(err)
	}
	h := startHubAndNodes(t, ctx, name, prefix, subnet, node)
	r := &signalRig{hubAndNodes: h, script: filepath.Join(h.pub, "trapper-"+h.id+".sh")}
	writeExec(t, r.script, body)
	u := h.seedAndStartAgent(ctx, t, 4, 1, &structs.App{Name: "trapper", Visibility: structs.VisibilityPublic, Image: "debian:stable",
		AppDef: structs.AppDef{Name: "trapper", Commands: map[string]structs.Command{"run": {Path: r.script, Name: "Run"}}}})
	r.key, r.alice, r.cli = u.key, u.alice, h.flotilla(ctx, t, flotilla, u)
	return r
}
