package hub_test

import (
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestCancelEndedJobReturnsIt: cancelling a job that already ended —
// COMPLETED or COMPLETED_WITH_ERROR as well as CANCELED — returns it as it
// is (cli.md: "Cancelling a job that already ended returns it as it is"),
// never "illegal transition COMPLETED -> CANCELED" (HTTP 409), which is
// what `flotilla cancel` of a completed job printed on the demo.
func TestCancelEndedJobReturnsIt(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) {
		cfg.Dispatch = &hub.DispatchOptions{Interval: 100 * time.Millisecond, AcceptTimeout: time.Minute}
	}})
	f := seed(t, c)
	ctx := ctxFor(t, 60*time.Second)
	admin := newClient(t, c, c.AdminKey)
	alice := newClient(t, c, f.Key)
	agentKey, err := admin.CreateAgentKey(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	agent := newClient(t, c, agentKey.Key)
	if _, err := agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{Status: structs.ClusterReady,
		Capacity: map[string]structs.Capacity{"n1": {Free: 4, Total: 4}}}); err != nil {
		t.Fatal(err)
	}
	for _, end := range []structs.JobState{structs.JobCompleted, structs.JobCompletedWithError} {
		j, err := alice.SubmitJob(ctx, f.job("ended-"+string(end)))
		if err != nil {
			t.Fatal(err)
		}
		j = waitJobState(t, ctx, alice, j.ID, structs.JobAssigned)
		rep := structs.JobReport{ID: j.ID, Number: j.Number, State: end}
		if end == structs.JobCompletedWithError {
			rep.ExitCode = 3
		}
		res, err := agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{Status: structs.ClusterReady,
			Capacity: map[string]structs.Capacity{"n1": {Free: 4, Total: 4}}, Jobs: []structs.JobReport{rep}})
		if err != nil || res.Jobs[0].Outcome != structs.ReportApplied {
			t.Fatalf("report %s: %+v, %v", end, res, err)
		}
		for _, verb := range []string{"cancel", "terminate"} {
			var got *structs.Job
			if verb == "cancel" {
				got, err = alice.CancelJob(ctx, j.ID, "")
			} else {
				got, err = alice.TerminateJob(ctx, j.ID, "")
			}
			if err != nil || got.State != end {
				t.Errorf("%s of a %s job: %+v, %v; want it returned %s", verb, end, got, err, end)
			}
		}
		if now, err := alice.GetJob(ctx, j.ID, true); err != nil || now.State != end {
			t.Errorf("%s job after cancel: %+v, %v", end, now, err)
		}
	}
}
