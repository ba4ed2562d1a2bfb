package dispatch

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestPassPlacesByAgentFeaturesOnceRecorded: while a replica in the
// directory does not apply ClusterAgent (a rolling upgrade of the hub),
// a pass places a job with an environment as before; once every replica
// records agents' features, a cluster whose agent never reported any gets
// no such job and the job waits with the reason, and an agent listing
// job-env gets it.
func TestPassPlacesByAgentFeaturesOnceRecorded(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		commands  string // of the second replica in the directory
		agent     *structs.AgentInfo
		wantState structs.JobState
		wantWhy   string
	}{
		"rolling upgrade": {commands: "1-33,41-42,60-71,80,95-96,100", wantState: structs.JobAssigned},
		"recorded, agent without features": {commands: fsm.KnownCommands(), wantState: structs.JobQueued,
			wantWhy: "cluster west's agent does not run jobs with an environment (--export): upgrade its agent"},
		"recorded, agent with job-env": {commands: fsm.KnownCommands(), wantState: structs.JobAssigned,
			agent: &structs.AgentInfo{Version: "v2", Features: []structs.AgentFeature{structs.FeatureJobEnv}}},
	} {
		t.Run(name, func(t *testing.T) {
			st, w := setup(t, false)
			for _, rep := range []structs.Replica{{ID: "1", Commands: fsm.KnownCommands()}, {ID: "2", Commands: tc.commands}} {
				rep.RaftAddress, rep.APIAddress = "127.0.0.1:"+rep.ID, "http://127.0.0.1:"+rep.ID
				if _, err := w.Write(ctx, &fsm.ReplicaUpsert{Replica: rep}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.agent != nil {
				if _, err := w.Write(ctx, &fsm.ClusterAgent{Cluster: "west", Agent: *tc.agent}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := w.Write(ctx, &fsm.JobSubmitExt{Job: structs.Job{ID: "j2", Tenant: "acme", Owner: "alice", App: "solver",
				Command: "run", MachineType: "cpu-west", Nodes: 1, State: structs.JobQueued, SubmitTime: t0,
				Env: map[string]string{"CASE": "1"}}}); err != nil {
				t.Fatal(err)
			}
			d := New(Config{Store: st, Writer: w, Leader: func() bool { return true }, Now: func() time.Time { return t0 }})
			if err := d.Pass(ctx); err != nil {
				t.Fatal(err)
			}
			j := job(t, st, "j2")
			if j.State != tc.wantState || !strings.HasPrefix(j.Substatus, tc.wantWhy) {
				t.Errorf("job: %s %q, want %s %q", j.State, j.Substatus, tc.wantState, tc.wantWhy)
			}
		})
	}
}
