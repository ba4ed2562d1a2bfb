package cli

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSignalCommands: `flotilla signal` and `flotilla cancel --signal`
// (scancel's spelling, which then does not cancel) send the signal and
// scope asked for; bad flags exit 2 before anything is sent; the hub's
// refusal (a job not running) is reported with its exit code.
func TestSignalCommands(t *testing.T) {
	c, url := testHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, alice, key := aliceOnEast(t, ctx, url, c.AdminKey, "solver")
	must := mustDo(t)
	submit := func() *structs.Job {
		j, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "solver", MachineType: "n1", Nodes: 1})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	run, queued := submit(), submit()
	for _, cmd := range []fsm.Command{
		&fsm.ClusterAgent{Cluster: "east", Agent: structs.AgentInfo{Features: []structs.AgentFeature{structs.FeatureJobSignals}}},
		&fsm.JobAssignment{ID: run.ID, Cluster: "east", Time: time.Now()},
		&fsm.JobStateUpdate{ID: run.ID, Cluster: "east", State: structs.JobRunning, Time: time.Now()},
	} {
		must(c.Hub(0).Write(ctx, cmd))
	}
	env := map[string]string{"FLOTILLA_HUB": url, "FLOTILLA_API_KEY": key}
	num := func(j *structs.Job) string { return strconv.FormatUint(j.Number, 10) }
	type sent struct {
		signal int
		scope  structs.SignalScope
	}
	var want []sent
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
		sent *sent // the request recorded, if any
	}{
		{"default TERM to all", []string{"signal", num(run)}, ExitOK, "Signal TERM sent to every process of the job", &sent{15, structs.SignalAll}},
		{"-s USR1 --batch", []string{"signal", "-s", "USR1", "--batch", num(run)}, ExitOK, "Signal USR1 sent to the job's main process", &sent{10, structs.SignalBatch}},
		{"--signal=12 --full", []string{"signal", "--signal=12", "--full", run.Name}, ExitOK, "request 3", &sent{12, structs.SignalAll}},
		{"cancel --signal", []string{"cancel", "--signal", "SIGUSR2", num(run)}, ExitOK, "Signal USR2 sent", &sent{12, structs.SignalAll}},
		{"cancel -s --batch", []string{"cancel", "-s", "10", "--batch", num(run)}, ExitOK, "main process", &sent{10, structs.SignalBatch}},
		{"bad signal", []string{"signal", "-s", "USR7", num(run)}, ExitUsage, "not a signal name", nil},
		{"batch and full", []string{"signal", "--batch", "--full", num(run)}, ExitUsage, "exclude each other", nil},
		{"no job", []string{"signal", "-s", "USR1"}, ExitUsage, "", nil},
		{"cancel --batch without --signal", []string{"cancel", "--batch", num(run)}, ExitUsage, "go with --signal", nil},
		{"cancel --signal two jobs", []string{"cancel", "--signal", "USR1", num(run), num(queued)}, ExitUsage, "exactly one JOB", nil},
		{"not running", []string{"signal", "-s", "USR1", num(queued)}, ExitError, "only a running job takes signals", nil},
	} {
		r := runCLI(t, env, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.says) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.name, r.code, r.stdout, r.stderr, tc.code, tc.says)
		}
		if tc.sent != nil {
			want = append(want, *tc.sent)
		}
		j, err := alice.GetJob(ctx, run.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		var got []sent
		for _, s := range j.Signals {
			got = append(got, sent{s.Signal, s.Scope})
		}
		if len(got) != len(want) || (len(want) > 0 && got[len(got)-1] != want[len(want)-1]) {
			t.Fatalf("%s: requests %v, want %v", tc.name, got, want)
		}
		if j.State != structs.JobRunning {
			t.Fatalf("%s: the job is %s: a signal must not cancel it", tc.name, j.State)
		}
	}
	r := runCLI(t, env, "status", num(run))
	if want := "1 TERM by alice; 2 USR1 by alice (main process); 3 USR2 by alice"; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("status: exit %d, lacks %q:\n%s", r.code, want, r.stdout)
	}
}
