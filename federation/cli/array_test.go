package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func TestProgressBar(t *testing.T) {
	p := &structs.ArrayProgress{Total: 200, Succeeded: 90, Failed: 5, Canceled: 5, Running: 10, Pending: 90}
	for name, tc := range map[string]struct {
		tty  bool
		want string
	}{
		"terminal": {true, "[##########..........] 100/200 (50%)"},
		"pipe":     {false, "100/200 (50%)"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := progressBar(p, 20, tc.tty); got != tc.want {
				t.Errorf("progressBar = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestArrayFlags(t *testing.T) {
	for name, tc := range map[string]struct {
		flags   arrayFlags
		want    structs.JobSubmitRequest
		wantErr bool
	}{
		"none":     {arrayFlags{}, structs.JobSubmitRequest{}, false},
		"full":     {arrayFlags{spec: "1-100:2%8", retries: 2, walltime: "10m"}, structs.JobSubmitRequest{Array: &structs.ArraySpec{Start: 1, End: 100, Step: 2, MaxRunning: 8}, TaskRetries: 2, TaskWalltime: structs.Duration(600e9)}, false},
		"bad spec": {arrayFlags{spec: "10-1"}, structs.JobSubmitRequest{}, true},
		"list": {arrayFlags{spec: "7-9,1,3%2"}, structs.JobSubmitRequest{Array: &structs.ArraySpec{Start: 1, End: 9, MaxRunning: 2,
			Ranges: []structs.ArrayRange{{Start: 1, End: 1}, {Start: 3, End: 3}, {Start: 7, End: 9}}}}, false},
		"bad list":  {arrayFlags{spec: "1,,3"}, structs.JobSubmitRequest{}, true},
		"bad limit": {arrayFlags{spec: "1-5", walltime: "soon"}, structs.JobSubmitRequest{}, true},
	} {
		t.Run(name, func(t *testing.T) {
			var req structs.JobSubmitRequest
			err := tc.flags.apply(&req)
			var ue *usageError
			switch {
			case tc.wantErr && !errors.As(err, &ue):
				t.Fatalf("apply = %v, want a usage error", err)
			case !tc.wantErr && err != nil:
				t.Fatal(err)
			case !tc.wantErr:
				if diff := cmp.Diff(tc.want, req); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestTaskRowExitCode: the tasks table shows an exit code for a failed
// task and for a canceled task that ran (killed), none for one canceled
// before it started (its exit_code is 0 in JSON: it never exited).
func TestTaskRowExitCode(t *testing.T) {
	cases := []struct {
		task       structs.TaskResult
		exit, atts string
	}{
		{structs.TaskResult{Index: 30, State: structs.TaskCanceled}, "", ""},
		{structs.TaskResult{Index: 11, State: structs.TaskCanceled, ExitCode: 143, Attempts: 1}, "143", "1"},
		{structs.TaskResult{Index: 9, State: structs.TaskFailed, ExitCode: 2, Attempts: 2, Tail: "a\nb\n"}, "2", "2"},
		{structs.TaskResult{Index: 1, State: structs.TaskSucceeded}, "", ""},
	}
	for _, c := range cases {
		row := taskRow(c.task)
		if row[2] != c.exit || row[3] != c.atts {
			t.Errorf("task %d (%s): exit %q attempts %q, want %q %q", c.task.Index, c.task.State, row[2], row[3], c.exit, c.atts)
		}
	}
	if row := taskRow(cases[2].task); row[4] != "a | b" {
		t.Errorf("tail %q, want %q", row[4], "a | b")
	}
}

// TestPrintTaskOutputCanceledBeforeStart: `tasks JOB --output N` of a task
// canceled before it started says so, with no exit code and no "no longer
// kept" note (it never had output); a killed task keeps both.
func TestPrintTaskOutputCanceledBeforeStart(t *testing.T) {
	var out, errs strings.Builder
	s := &session{stdout: &out, stderr: &errs, output: "table"}
	if err := printTaskOutput(s, &structs.TaskOutput{Index: 30, State: structs.TaskCanceled, NotKept: true}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "== task 30: canceled before it started ==\n" || errs.Len() != 0 {
		t.Errorf("stdout %q stderr %q", out.String(), errs.String())
	}
	out.Reset()
	if err := printTaskOutput(s, &structs.TaskOutput{Index: 1, State: structs.TaskCanceled, ExitCode: 137, Attempts: 1, Tail: "x\n"}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "== task 1: canceled, exit code 137, attempt 1 ==\nx\n" {
		t.Errorf("killed task: %q", out.String())
	}
}

// TestArrayFieldsOfList: status shows a list in Slurm's form with its
// task count.
func TestArrayFieldsOfList(t *testing.T) {
	spec, err := structs.ParseArraySpec("1,3,7-9%2")
	if err != nil {
		t.Fatal(err)
	}
	f := arrayFields(&structs.Job{Array: &structs.ArrayJob{Spec: spec, TaskRetries: 1}}, false)
	if len(f) == 0 || f[0] != [2]string{"Array", "1,3,7-9%2 (5 tasks, 1 retries each)"} {
		t.Errorf("fields %q", f)
	}
}
