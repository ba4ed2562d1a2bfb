package e2e

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
	"github.com/flotilla-hpc/flotilla/test/localnodes"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// TestSlurmDependenciesEnvWorkdir runs sbatch's --dependency, --export and
// --chdir end to end: a flotilla-hub and a flotilla-agent process, a real
// control plane, and a local node whose pods are real processes, so that
// flotilla-init really runs the app's script (which prints its directory
// and a variable and exits with the status another variable names). Jobs
// are submitted while the agent is down, so the dependent ones wait:
//   - B afterok A runs only after A completed, in its working directory
//     with its own variable;
//   - D afterok C ends by itself, CANCELED, once C failed;
//   - E, whose working directory does not exist, fails with that reason
//     and never runs its command.
func TestSlurmDependenciesEnvWorkdir(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools), a local node (root) and the built binaries; skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "flotilla-deps-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	work := filepath.Join(dir, "case 1")
	script := filepath.Join(dir, "run.sh")
	for _, err := range []error{os.Mkdir(work, 0o777), os.Chmod(dir, 0o755), os.Chmod(work, 0o777),
		os.WriteFile(script, []byte("#!/bin/sh\necho \"ran in $(pwd) case=$CASE_NAME\"\nexit ${EXIT_WITH:-0}\n"), 0o755)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	f := startProcFed(ctx, t, procFedOptions{hubs: procenv.HubOptions{Replicas: 1, Args: []string{"-dispatch-interval", "250ms"}},
		nodes: 1, commands: map[string]structs.Command{"run": {Path: script, Name: "Run"}}})
	hubs, env, admin := f.hubs, f.env, f.admin
	startLocalNode(ctx, t, env, "fdp", "10.223.0.0/24")
	must(t)(admin.PutMachineType(ctx, &structs.MachineType{Name: "cpu-local", Cores: 1, Slots: 1, RAM: 1, ScaleMin: 1, ScaleMax: 1,
		Cluster: "east", Properties: localnodes.Label + "=true"}))
	alice := hubs.Client(f.aliceKey)
	sub := func(mut func(r *structs.JobSubmitRequest)) *structs.Job {
		t.Helper()
		r := structs.JobSubmitRequest{ID: structs.NewJobID(), App: "solver", Command: "run", MachineType: "cpu-local", Nodes: 1}
		mut(&r)
		j, err := alice.SubmitJob(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	n := func(j *structs.Job) string { return strconv.FormatUint(j.Number, 10) }

	a := sub(func(r *structs.JobSubmitRequest) { r.Workdir = work })
	b := sub(func(r *structs.JobSubmitRequest) {
		r.Dependency, r.Workdir, r.Env = "afterok:"+n(a), work, map[string]string{"CASE_NAME": "wing 3"}
	})
	c := sub(func(r *structs.JobSubmitRequest) { r.Env = map[string]string{"EXIT_WITH": "3"} })
	d := sub(func(r *structs.JobSubmitRequest) { r.Dependency = "afterok:" + c.ID })
	e := sub(func(r *structs.JobSubmitRequest) { r.Workdir = filepath.Join(dir, "no such dir") })
	for _, j := range []*structs.Job{b, d} {
		if j.State != structs.JobHeld || !strings.HasPrefix(j.Substatus, "Dependency: waits for afterok:") {
			t.Fatalf("job %d at submit: %s %q, want HELD for its dependency", j.Number, j.State, j.Substatus)
		}
	}

	procenv.StartAgent(t, procenv.AgentOptions{Cluster: "east", HubURLs: hubs.URLs(), Kubeconfig: env.Kubeconfig,
		BootstrapToken: f.token, Args: []string{"-heartbeat", "300ms"}})
	ended := func(j *structs.Job) *structs.Job {
		t.Helper()
		return waitJob(ctx, t, alice, j.ID, "ended", func(j *structs.Job) bool { return j.State.IsTerminal() })
	}
	if a = ended(a); a.State != structs.JobCompleted {
		t.Fatalf("A ended %s %q:\n%s", a.State, a.Substatus, a.LogTail)
	}
	b = ended(b)
	if b.State != structs.JobCompleted || !strings.Contains(b.LogTail, "ran in "+work+" case=wing 3") {
		t.Errorf("B ended %s %q, output:\n%s", b.State, b.Substatus, b.LogTail)
	}
	if !b.StartTime.After(a.EndTime) && !b.StartTime.Equal(a.EndTime) {
		t.Errorf("B started %s, before A ended %s", b.StartTime, a.EndTime)
	}
	if c = ended(c); c.State != structs.JobCompletedWithError || c.ExitCode != 3 {
		t.Errorf("C ended %s %d, want COMPLETED_WITH_ERROR 3", c.State, c.ExitCode)
	}
	d = ended(d)
	if d.State != structs.JobCanceled || !strings.HasPrefix(d.Substatus, "DependencyNeverSatisfied: afterok:"+n(c)) || !d.StartTime.IsZero() {
		t.Errorf("D ended %s %q (started %s), want CANCELED: DependencyNeverSatisfied, never started", d.State, d.Substatus, d.StartTime)
	}
	e = ended(e)
	if e.State != structs.JobCompletedWithError || !strings.Contains(e.Substatus, "working directory does not exist") ||
		strings.Contains(e.LogTail, "ran in") {
		t.Errorf("E ended %s %q, output:\n%s", e.State, e.Substatus, e.LogTail)
	}
	checkJobRecord(ctx, t, alice, b)
}

// checkJobRecord: the job as its readers get it from the API carries its
// environment (as submitted), resolved dependency and working directory.
func checkJobRecord(ctx context.Context, t *testing.T, c *client.Client, j *structs.Job) {
	t.Helper()
	got, err := c.GetJob(ctx, j.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Env["CASE_NAME"] != "wing 3" || got.Dependency == nil || got.Workdir == "" {
		t.Errorf("job as read: env %v dependency %v workdir %q", got.Env, got.Dependency, got.Workdir)
	}
}
