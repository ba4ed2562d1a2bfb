package dispatch

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// localWriter applies commands to an FSM directly, one log entry each.
type localWriter struct {
	mu    sync.Mutex
	f     *fsm.FSM
	index uint64
}

func (w *localWriter) Write(_ context.Context, cmd fsm.Command) (any, error) {
	b, err := fsm.Encode(cmd)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.index++
	res := w.f.ApplyCommands(w.index, [][]byte{b})[0]
	if err, ok := res.(error); ok {
		return nil, err
	}
	return res, nil
}

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T, withRule bool) (*state.Store, *localWriter) {
	t.Helper()
	st, err := state.New()
	if err != nil {
		t.Fatal(err)
	}
	w := &localWriter{f: fsm.New(st)}
	must := func(c fsm.Command) {
		t.Helper()
		if _, err := w.Write(context.Background(), c); err != nil {
			t.Fatalf("%T: %v", c, err)
		}
	}
	must(&fsm.TenantUpsert{Tenant: structs.Tenant{Name: "acme"}})
	must(&fsm.UserUpsert{User: structs.User{Username: "alice", Tenant: "acme", Role: structs.RoleUser}})
	for _, c := range []string{"east", "west"} {
		must(&fsm.ClusterUpsert{Cluster: structs.Cluster{Name: c}})
	}
	must(&fsm.MachineTypeUpsert{MachineType: structs.MachineType{Name: "cpu-east", Cores: 8, RAM: 16, Cluster: "east", ScaleMax: 16}})
	must(&fsm.MachineTypeUpsert{MachineType: structs.MachineType{Name: "cpu-west", Cores: 8, RAM: 16, Cluster: "west", ScaleMax: 16}})
	must(&fsm.AppUpsert{App: structs.App{Name: "solver", Visibility: structs.VisibilityPublic,
		AppDef: structs.AppDef{Name: "solver", Commands: map[string]structs.Command{"run": {Path: "/run"}}}}})
	// east is full, west has room.
	must(&fsm.ClusterHeartbeat{Cluster: "east", Status: structs.ClusterReady, Time: t0,
		Capacity: map[string]structs.Capacity{"cpu-east": {Free: 0, Total: 4}}})
	must(&fsm.ClusterHeartbeat{Cluster: "west", Status: structs.ClusterReady, Time: t0,
		Capacity: map[string]structs.Capacity{"cpu-west": {Free: 4, Total: 4}}})
	if withRule {
		must(&fsm.BurstRuleUpsert{Rule: structs.BurstRule{Name: "east-to-west", From: "cpu-east", To: []string{"cpu-west"},
			After: structs.Duration(5 * time.Second)}})
	}
	must(&fsm.JobSubmit{Job: structs.Job{ID: "j1", Tenant: "acme", Owner: "alice", App: "solver", Command: "run",
		MachineType: "cpu-east", Nodes: 2, State: structs.JobQueued, SubmitTime: t0}})
	return st, w
}

func job(t *testing.T, st *state.Store, id string) *structs.Job {
	t.Helper()
	j, err := st.Read().Job(id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestPassBurstsAfterRuleDelay(t *testing.T) {
	for name, tc := range map[string]struct {
		rule                 bool
		at                   time.Duration
		wantState            structs.JobState
		wantCluster, wantMT  string
		wantRule             string
		wantSubstatusPresent bool
	}{
		"waits on its pinned cluster before the delay": {rule: true, at: 2 * time.Second, wantState: structs.JobQueued, wantSubstatusPresent: true},
		"bursts to west after the delay":               {rule: true, at: 6 * time.Second, wantState: structs.JobAssigned, wantCluster: "west", wantMT: "cpu-west", wantRule: "east-to-west", wantSubstatusPresent: true},
		"without a rule it waits on east":              {rule: false, at: time.Hour, wantState: structs.JobQueued, wantSubstatusPresent: true},
	} {
		t.Run(name, func(t *testing.T) {
			st, w := setup(t, tc.rule)
			d := New(Config{Store: st, Writer: w, Leader: func() bool { return true }, Now: func() time.Time { return t0.Add(tc.at) }})
			if err := d.Pass(context.Background()); err != nil {
				t.Fatal(err)
			}
			j := job(t, st, "j1")
			if j.State != tc.wantState || j.Cluster != tc.wantCluster || j.AssignedMachineType != tc.wantMT || j.BurstRule != tc.wantRule {
				t.Errorf("job: state %s cluster %q mt %q rule %q; want %s %q %q %q", j.State, j.Cluster, j.AssignedMachineType, j.BurstRule,
					tc.wantState, tc.wantCluster, tc.wantMT, tc.wantRule)
			}
			if tc.wantSubstatusPresent && j.Substatus == "" {
				t.Errorf("no reason recorded for the decision")
			}
			t.Logf("substatus: %s", j.Substatus)
			// A second pass with nothing new writes nothing.
			before := w.index
			if err := d.Pass(context.Background()); err != nil {
				t.Fatal(err)
			}
			if w.index != before {
				t.Errorf("idle pass wrote %d entries", w.index-before)
			}
		})
	}
}

func TestPassPinnedAndRequeue(t *testing.T) {
	st, w := setup(t, false)
	ctx := context.Background()
	if _, err := w.Write(ctx, &fsm.ClusterHeartbeat{Cluster: "east", Status: structs.ClusterReady, Time: t0,
		Capacity: map[string]structs.Capacity{"cpu-east": {Free: 4, Total: 4}}}); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Second)
	d := New(Config{Store: st, Writer: w, Leader: func() bool { return true }, Now: func() time.Time { return now }, AcceptTimeout: time.Minute})
	if err := d.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if j := job(t, st, "j1"); j.State != structs.JobAssigned || j.Cluster != "east" || j.BurstRule != "" {
		t.Fatalf("pinned: %s %q %q", j.State, j.Cluster, j.BurstRule)
	}
	// No agent took it up within the timeout: back to the queue.
	now = now.Add(2 * time.Minute)
	if _, err := w.Write(ctx, &fsm.ClusterHeartbeat{Cluster: "east", Status: structs.ClusterReady, Time: now,
		Capacity: map[string]structs.Capacity{"cpu-east": {Free: 0, Total: 4}}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if j := job(t, st, "j1"); j.State != structs.JobQueued || j.Cluster != "" {
		t.Fatalf("after the accept timeout: %s %q", j.State, j.Cluster)
	}
}

// TestReasonUpdatesThrottled: a waiting job's reason changes every pass
// ("waited 2s of 5s"), but it is written at most once per ReasonEvery.
func TestReasonUpdatesThrottled(t *testing.T) {
	st, w := setup(t, true)
	now := t0.Add(time.Second)
	d := New(Config{Store: st, Writer: w, Leader: func() bool { return true }, Now: func() time.Time { return now }, ReasonEvery: 2 * time.Second})
	ctx := context.Background()
	writes := func() uint64 {
		before := w.index
		if err := d.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		return w.index - before
	}
	if n := writes(); n != 1 {
		t.Fatalf("first pass wrote %d entries, want the reason once", n)
	}
	now = now.Add(time.Second) // reason text changes ("waited 2s"), inside the window
	if n := writes(); n != 0 {
		t.Errorf("pass inside the window wrote %d entries", n)
	}
	now = now.Add(2 * time.Second) // t0+4s: after the window, before the rule's 5 s
	if n := writes(); n != 1 {
		t.Errorf("pass after the window wrote %d entries, want 1", n)
	}
	if j := job(t, st, "j1"); j.State != structs.JobQueued || j.Substatus == "" {
		t.Errorf("job %s %q", j.State, j.Substatus)
	}
}
