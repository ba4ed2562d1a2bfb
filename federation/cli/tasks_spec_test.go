package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestTasksPrintsSpec: flotilla tasks JOB prints, above the table, the
// array's spec as --array takes it (a step, a list and %MAX kept) with
// its number of tasks and their counts by state.
func TestTasksPrintsSpec(t *testing.T) {
	u := newUserHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCLI(t, u.env, "submit", "--app", "solver", "-p", "n1", "--array", "1-100:2,200%4").check(t, ExitOK, "number 1")
	r := runCLI(t, u.env, "tasks", "1")
	if first, _, _ := strings.Cut(r.stdout, "\n"); r.code != ExitOK || first != "Array 1-99:2,200%4 (51 tasks): not started" {
		t.Errorf("tasks before the start: exit %d, first line %q\n%s%s", r.code, first, r.stdout, r.stderr)
	}
	// The spec printed is one --array takes, and means the same tasks.
	if spec, err := structs.ParseArraySpec("1-99:2,200%4"); err != nil || spec.Count() != 51 || spec.MaxRunning != 4 {
		t.Errorf("the printed spec parses to %+v, %v", spec, err)
	}
	u.place(ctx, t, 4)
	j, err := findJob(ctx, u.adm, "1")
	if err != nil {
		t.Fatal(err)
	}
	res, err := u.agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{Status: structs.ClusterReady,
		Jobs: []structs.JobReport{{ID: j.ID, Number: j.Number, State: structs.JobRunning, Array: &structs.ArrayProgress{
			Total: 51, Pending: 40, Running: 4, Succeeded: 6, Failed: 1, Retried: 2, Nodes: 1, PeakRunning: 4}}}})
	if err != nil || len(res.Jobs) != 1 || res.Jobs[0].Outcome != structs.ReportApplied {
		t.Fatalf("the agent's report: %+v, %v", res, err)
	}
	r = runCLI(t, u.env, "tasks", "1")
	if first, _, _ := strings.Cut(r.stdout, "\n"); r.code != ExitOK ||
		first != "Array 1-99:2,200%4 (51 tasks): 40 pending, 4 running, 6 succeeded, 1 failed, 0 canceled, 2 retried" {
		t.Errorf("tasks while running: exit %d, first line %q\n%s%s", r.code, first, r.stdout, r.stderr)
	}
}
