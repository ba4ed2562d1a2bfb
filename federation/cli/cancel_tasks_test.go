package cli

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestCancelTasksChecksTheArray: `flotilla cancel JOB --tasks LIST`
// refuses, with exit 2 and before sending the cancel, a job that is not
// an array and an index that is not one of its array's (array-jobs.md:
// "the CLI exits 2 before sending"); the job's canceled tasks stay as they
// were. A good list cancels.
func TestCancelTasksChecksTheArray(t *testing.T) {
	c, url := testHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, alice, key := aliceOnEast(t, ctx, url, c.AdminKey, "sweep")
	arr := &structs.ArraySpec{Start: 1, End: 100, Step: 1}
	array, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "sweep", MachineType: "n1", Nodes: 1, Array: arr})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "sweep", MachineType: "n1", Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FLOTILLA_HUB": url, "FLOTILLA_API_KEY": key}
	num := func(j *structs.Job) string { return strconv.FormatUint(j.Number, 10) }
	cases := []struct {
		name string
		args []string
		code int
		says string
		want string // the array's canceled tasks afterwards
	}{
		{"index outside the array", []string{"cancel", num(array), "--tasks", "17,0"}, ExitUsage, "task 0 is not in job " + num(array) + "'s array (1-100)", ""},
		{"range past its end", []string{"cancel", num(array), "--tasks", "90-120"}, ExitUsage, "tasks 101-120 are not in job " + num(array) + "'s array (1-100)", ""},
		{"step past its end", []string{"cancel", num(array), "--tasks", "0-110:5"}, ExitUsage, "tasks 0,105,110 are not in job " + num(array) + "'s array (1-100)", ""},
		{"a %MAX", []string{"cancel", num(array), "--tasks", "1-10%2"}, ExitUsage, "a %MAX belongs to --array", ""},
		{"above the indices' bound", []string{"cancel", num(array), "--tasks", "1-200000000"}, ExitUsage, "above 100000000", ""},
		{"not an array", []string{"cancel", num(plain), "--tasks", "1"}, ExitUsage, "is not an array job", ""},
		{"tasks of the array", []string{"cancel", num(array), "--tasks", "17,42,90-100"}, ExitOK, "tasks 17,42,90-100 canceled", "17,42,90-100"},
		{"a step", []string{"cancel", num(array), "--tasks", "1-9:4"}, ExitOK, "tasks 1-9:4 canceled", "1,5,9,17,42,90-100"},
	}
	for _, tc := range cases {
		r := runCLI(t, env, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.says) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.name, r.code, r.stdout, r.stderr, tc.code, tc.says)
		}
		j, err := alice.GetJob(ctx, array.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if j.Array.CancelTasks != tc.want {
			t.Errorf("%s: canceled tasks %q, want %q", tc.name, j.Array.CancelTasks, tc.want)
		}
	}
}
