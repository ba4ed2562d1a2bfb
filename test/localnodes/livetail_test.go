package localnodes

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// TestLiveTailOnLocalNode: a job whose head is a real process printing a
// line every 200 ms, on a local node whose kubelet serves its log through
// the API server; the shipped agent (-live-tail-every=300ms) reports the
// running job's log tail, which grows at the hub while the job runs and
// keeps the last 50 lines; when the head exits, the final tail holds its
// last line (followed by flotilla-init's own).
func TestLiveTailOnLocalNode(t *testing.T) {
	needLocalNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h := startHubAndNodes(t, ctx, "tail", "ft", "10.219.0.0/24", "tail-l0")
	hubs, env, id, pub, shared := h.hubs, h.env, h.id, h.pub, h.shared
	script := filepath.Join(pub, "talk-"+id+".sh")
	writeExec(t, script, "#!/bin/sh\ni=0\nwhile [ ! -e /shared/stop ]; do i=$((i+1)); echo \"step $i\"; sleep 0.2; done\necho finished\n")

	admin := hubs.Client(hubs.AdminKey)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	must(admin.PutCluster(ctx, "tail", &structs.ClusterSpec{}))
	must(admin.PutMachineType(ctx, &structs.MachineType{Name: "l4", Cores: 4, Slots: 4, RAM: 1, ScaleMin: 1, ScaleMax: 1,
		Cluster: "tail", Properties: Label + "=true", Devices: shared + "=/shared:rw"}))
	must(admin.PutApp(ctx, &structs.App{Name: "talker", Visibility: structs.VisibilityPublic, Image: "debian:stable",
		AppDef: structs.AppDef{Name: "talker", Commands: map[string]structs.Command{"run": {Path: script, Name: "Run"}}}}))
	must(admin.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}))
	key, err := admin.CreateAPIKey(ctx, "alice", "tail")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateBootstrapToken(ctx, "tail")
	if err != nil {
		t.Fatal(err)
	}
	alice := hubs.Client(key.Key)
	procenv.StartAgent(t, procenv.AgentOptions{Cluster: "tail", HubURLs: hubs.URLs(), Kubeconfig: env.Kubeconfig,
		BootstrapToken: tok.Key, Args: []string{"-live-tail-every=300ms", "-pod-security=privileged"}}) // host binds

	j, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "talker", Command: "run", MachineType: "l4", Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	lastStep := func(tail string) int {
		lines := strings.Split(strings.TrimSuffix(tail, "\n"), "\n")
		n, _ := strconv.Atoi(strings.TrimPrefix(lines[len(lines)-1], "step "))
		return n
	}
	var first *structs.Job
	waitFor(ctx, t, "a running tail with step 3", func() bool {
		cur, err := alice.GetJob(ctx, j.ID, false)
		if err != nil || cur.State.IsTerminal() {
			if cur != nil && cur.State.IsTerminal() {
				t.Fatalf("job ended early: %s %s %q", cur.State, cur.Substatus, cur.LogTail)
			}
			return false
		}
		first = cur
		return cur.State == structs.JobRunning && lastStep(cur.LogTail) >= 3
	})
	waitFor(ctx, t, "the tail growing while the job runs", func() bool {
		cur, err := alice.GetJob(ctx, j.ID, false)
		return err == nil && cur.State == structs.JobRunning && lastStep(cur.LogTail) >= lastStep(first.LogTail)+5
	})
	waitFor(ctx, t, "more than 50 lines printed, the tail bounded", func() bool {
		cur, err := alice.GetJob(ctx, j.ID, false)
		if err != nil || lastStep(cur.LogTail) <= 60 {
			return false
		}
		if n := strings.Count(cur.LogTail, "\n"); n != 50 {
			t.Errorf("running tail holds %d lines, want the last 50", n)
		}
		return true
	})
	if err := os.WriteFile(filepath.Join(shared, "stop"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	var end *structs.Job
	waitFor(ctx, t, "the job completed", func() bool {
		cur, err := alice.GetJob(ctx, j.ID, false)
		end = cur
		return err == nil && cur.State.IsTerminal()
	})
	if end.State != structs.JobCompleted || !strings.Contains(end.LogTail, "finished\n") {
		t.Errorf("ended %s (%s), final tail %q", end.State, end.Substatus, end.LogTail)
	}
}

// needLocalNodes skips t under -short and fails it when not root: local
// nodes need root (network and mount namespaces), a control plane and
// the built binaries (FLOTILLA_BIN from make tools and make build).
func needLocalNodes(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: local nodes need root, a control plane and the built binaries (FLOTILLA_BIN from make tools and make build)")
	}
	if os.Geteuid() != 0 {
		t.Fatalf("%s must run as root (local nodes make network and mount namespaces)", t.Name())
	}
}
