package hubsync

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSyncerFollowsAssignments: assignments of this cluster reach the
// runner once, complete as the hub resolved them; jobs the hub stops or
// moves away are canceled; capacity covers this cluster's machine types.
func TestSyncerFollowsAssignments(t *testing.T) {
	hub, run := newFakeHub(), newFakeRunner()
	hub.setMachineTypes(&structs.MachineType{Name: "m4", Cores: 4, RAM: 8, Cluster: "east"},
		&structs.MachineType{Name: "w4", Cores: 4, RAM: 8, Cluster: "west"})
	start(t, hub, run, func(c *Config) {
		c.Capacity = func(mts []*structs.MachineType) map[string]structs.Capacity {
			out := map[string]structs.Capacity{}
			for _, m := range mts {
				out[m.Name] = structs.Capacity{Free: 1, Total: 2}
			}
			return out
		}
	})
	hub.set(job(1, "east", structs.JobAssigned))
	hub.set(job(2, "east", structs.JobAssigned))
	hub.set(job(3, "west", structs.JobAssigned))
	eventually(t, "jobs 1 and 2 handed to the runner", func() bool {
		a, _, _ := run.counts(1)
		b, _, _ := run.counts(2)
		return a == 1 && b == 1
	})
	run.mu.Lock()
	got := run.added[1][0]
	run.mu.Unlock()
	if got.Command == nil || got.Command.Path != "/opt/solver" || got.Image != "solver:1" || got.MachineType.Name != "m4" {
		t.Errorf("assignment handed over = %+v, want it as the hub resolved it", got)
	}
	if a, _, _ := run.counts(3); a != 0 {
		t.Error("job of another cluster handed to the runner")
	}
	// A redelivery (a state change of a running job) is not handed again.
	hub.set(job(1, "east", structs.JobRunning))
	// The hub cancels job 2; job 1 is moved away (back to the queue).
	hub.set(job(2, "east", structs.JobCanceled))
	moved := job(1, "", structs.JobQueued)
	moved.PreviousCluster = "east"
	hub.set(moved)
	eventually(t, "cancel of 1 and 2", func() bool {
		_, c1, _ := run.counts(1)
		_, c2, _ := run.counts(2)
		return c1 == 1 && c2 == 1
	})
	if a, _, _ := run.counts(1); a != 1 {
		t.Errorf("job 1 added %d times", a)
	}
	eventually(t, "a push with capacity", func() bool { return hub.capacityKeys() != nil })
	if got := hub.capacityKeys(); !slices.Equal(got, []string{"m4"}) {
		t.Errorf("capacity pushed for %v, want only this cluster's machine type m4", got)
	}
}

// TestNoCallBacks: the hub interface is the assignment list and the status
// push, nothing else — no app, machine type or vault lookups per job.
func TestNoCallBacks(t *testing.T) {
	ht := reflect.TypeFor[Hub]()
	var names []string
	for i := range ht.NumMethod() {
		names = append(names, ht.Method(i).Name)
	}
	if !slices.Equal(names, []string{"Assignments", "PushStatus"}) {
		t.Errorf("hubsync.Hub has methods %v, want only Assignments and PushStatus", names)
	}
}

// TestReportsLossless: a report is sent until the hub answers applied or
// stale — across failed pushes and retry outcomes — and a final state so
// answered is acknowledged to the runner exactly once.
func TestReportsLossless(t *testing.T) {
	hub, run := newFakeHub(), newFakeRunner()
	hub.failNext = 2 // the first two pushes are lost
	hub.script = func(r structs.JobReport, sent int) structs.ReportOutcome {
		switch {
		case r.Number == 1 && r.State == structs.JobCompleted && sent <= 2:
			return structs.ReportRetry
		case r.Number == 2:
			return structs.ReportStale
		}
		return structs.ReportApplied
	}
	s, _ := start(t, hub, run, nil)
	s.Report(structs.JobStateUpdate{ID: "j-1", Number: 1, State: structs.JobRunning})
	s.Report(structs.JobStateUpdate{ID: "j-1", Number: 1, State: structs.JobCompleted})
	s.Report(structs.JobStateUpdate{ID: "j-2", Number: 2, State: structs.JobRunning})
	s.Report(structs.JobStateUpdate{ID: "j-2", Number: 2, State: structs.JobTerminated})
	s.Report(structs.JobStateUpdate{ID: "j-9", State: structs.JobRunning}) // no number: never sent
	eventually(t, "every report answered for good", func() bool { return s.Pending() == 0 })
	// Twenty more heartbeats: nothing answered is sent again.
	n := hub.pushCount()
	eventually(t, "more heartbeats", func() bool { return hub.pushCount() >= n+20 })
	for _, c := range []struct {
		number uint64
		state  structs.JobState
		want   int
	}{
		{1, structs.JobRunning, 1},    // applied at once (after the two lost pushes)
		{1, structs.JobCompleted, 3},  // retry, retry, applied
		{2, structs.JobRunning, 1},    // stale: dropped
		{2, structs.JobTerminated, 1}, // stale: dropped, but the end is acknowledged
		{9, structs.JobRunning, 0},    // never sent
		{0, structs.JobRunning, 0},    // never sent
	} {
		if got := hub.sentCount(c.number, c.state); got != c.want {
			t.Errorf("job %d %s pushed %d times, want %d", c.number, c.state, got, c.want)
		}
	}
	for _, n := range []uint64{1, 2} {
		if _, _, acked := run.counts(n); acked != 1 {
			t.Errorf("job %d acknowledged %d times, want once", n, acked)
		}
	}
}

// TestAcknowledgedOnlyWhenAnswered: while the hub cannot take a final
// report, the runner is not told its job may go.
func TestAcknowledgedOnlyWhenAnswered(t *testing.T) {
	hub, run := newFakeHub(), newFakeRunner()
	hub.script = func(r structs.JobReport, sent int) structs.ReportOutcome {
		if sent <= 5 {
			return structs.ReportRetry
		}
		return structs.ReportApplied
	}
	s, _ := start(t, hub, run, nil)
	s.Report(structs.JobStateUpdate{ID: "j-1", Number: 1, State: structs.JobCompletedWithError, ExitCode: 3})
	eventually(t, "five retries", func() bool { return hub.sentCount(1, structs.JobCompletedWithError) >= 5 })
	if _, _, acked := run.counts(1); acked != 0 && hub.sentCount(1, structs.JobCompletedWithError) < 6 {
		t.Fatal("acknowledged before the hub recorded the final state")
	}
	eventually(t, "the acknowledgement", func() bool { _, _, a := run.counts(1); return a == 1 })
	if got := hub.sentCount(1, structs.JobCompletedWithError); got != 6 {
		t.Errorf("final report pushed %d times, want 6", got)
	}
}

// TestFullListingPaging: the full listing reads every page before the
// runner is resynced with the whole set, and the watch pages too.
func TestFullListingPaging(t *testing.T) {
	hub, run := newFakeHub(), newFakeRunner()
	for n := uint64(1); n <= 25; n++ {
		hub.set(job(n, "east", structs.JobRunning))
	}
	hub.set(job(26, "east", structs.JobCompleted)) // not active: not listed
	s, clock := start(t, hub, run, func(c *Config) { c.PageSize = 10 })
	eventually(t, "the first resync", func() bool { _, n := run.lastResync(); return n == 1 })
	active, _ := run.lastResync()
	if len(active) != 25 {
		t.Fatalf("resync with %d active jobs, want 25 (all pages)", len(active))
	}
	for n := uint64(1); n <= 25; n++ {
		if a, _, _ := run.counts(n); a != 1 || !active[n] {
			t.Errorf("job %d: added %d times, active %v", n, a, active[n])
		}
	}
	hub.mu.Lock()
	var afters []uint64
	for _, q := range hub.queries {
		if q.Index == 0 {
			afters = append(afters, q.After)
		}
		if q.Limit != 10 {
			t.Errorf("query %+v: limit %d, want the page size 10", q, q.Limit)
		}
	}
	hub.mu.Unlock()
	if diff := cmp.Diff([]uint64{0, 10, 20}, afters); diff != "" {
		t.Errorf("full listing pages (-want +got):\n%s", diff)
	}
	// Fifteen jobs added at once: the watch reads them in two pages.
	for n := uint64(101); n <= 115; n++ {
		hub.set(job(n, "east", structs.JobAssigned))
	}
	eventually(t, "the watch delivers all 15", func() bool {
		for n := uint64(101); n <= 115; n++ {
			if a, _, _ := run.counts(n); a != 1 {
				return false
			}
		}
		return true
	})
	// Job 5 ended at the hub while nobody looked (not in the watch):
	// the next full listing leaves it out of the resync.
	hub.mu.Lock()
	hub.jobs[5].Job.State = structs.JobTerminated // no index bump: the watch misses it
	hub.mu.Unlock()
	clock.Add(2 * time.Hour)
	hub.set(job(200, "west", structs.JobAssigned)) // wake the watch
	eventually(t, "the second resync", func() bool { _, n := run.lastResync(); return n >= 2 })
	active, _ = run.lastResync()
	if active[5] || !active[101] || len(active) != 39 {
		t.Errorf("second resync: job 5 active %v, job 101 %v, %d jobs; want 39 without job 5", active[5], active[101], len(active))
	}
	if s.Index() == 0 {
		t.Error("no watch index after the listings")
	}
}

// TestMachineTypeChangePropagated: a machine type changed at the hub
// reaches the capacity report with the next watch.
func TestMachineTypeChangePropagated(t *testing.T) {
	hub, run := newFakeHub(), newFakeRunner()
	seen := make(chan []*structs.MachineType, 100)
	start(t, hub, run, func(c *Config) {
		c.Capacity = func(mts []*structs.MachineType) map[string]structs.Capacity {
			select {
			case seen <- mts:
			default:
			}
			return map[string]structs.Capacity{}
		}
	})
	wait := func(what string, ok func([]*structs.MachineType) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case mts := <-seen:
				if ok(mts) {
					return
				}
			case <-deadline:
				t.Fatalf("capacity never computed for %s", what)
			}
		}
	}
	wait("m4 with 4 cores", func(m []*structs.MachineType) bool { return len(m) == 1 && m[0].Cores == 4 })
	hub.setMachineTypes(&structs.MachineType{Name: "m4", Cores: 8, RAM: 8, Cluster: "east"},
		&structs.MachineType{Name: "g1", Cores: 8, GPUs: 1, RAM: 8, Cluster: "east"},
		&structs.MachineType{Name: "w4", Cores: 8, RAM: 8, Cluster: "west"})
	wait("m4 with 8 cores and g1", func(m []*structs.MachineType) bool {
		return len(m) == 2 && m[0].Name == "m4" && m[0].Cores == 8 && m[1].Name == "g1"
	})
}

// TestFinishedNotRestarted: a job whose end the runner reported is not
// started again by a late assignment still showing it running, and is
// forgotten once the hub shows the end.
func TestFinishedNotRestarted(t *testing.T) {
	hub, run := newFakeHub(), newFakeRunner()
	s, clock := start(t, hub, run, nil)
	hub.set(job(1, "east", structs.JobRunning))
	eventually(t, "job 1 added", func() bool { a, _, _ := run.counts(1); return a == 1 })
	s.Report(structs.JobStateUpdate{ID: "j-1", Number: 1, State: structs.JobCompleted})
	eventually(t, "the end acknowledged", func() bool { _, _, a := run.counts(1); return a == 1 })
	hub.set(job(1, "east", structs.JobRunning)) // a stale view of the job
	hub.set(job(2, "east", structs.JobAssigned))
	eventually(t, "job 2 added", func() bool { a, _, _ := run.counts(2); return a == 1 })
	if a, c, _ := run.counts(1); a != 1 || c != 0 {
		t.Errorf("job 1 added %d times, canceled %d times after it finished", a, c)
	}
	hub.set(job(1, "east", structs.JobCompleted))
	eventually(t, "job 1 forgotten", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.finished[1]
		return !ok
	})
	// Jobs that ended are pruned by a full listing too.
	s.Report(structs.JobStateUpdate{ID: "j-2", Number: 2, State: structs.JobCompleted})
	eventually(t, "job 2 acknowledged", func() bool { _, _, a := run.counts(2); return a == 1 })
	hub.mu.Lock()
	hub.jobs[2].Job.State = structs.JobCompleted // unseen by the watch
	hub.mu.Unlock()
	clock.Add(2 * time.Hour)
	hub.set(job(3, "west", structs.JobAssigned)) // wake the watch
	eventually(t, "job 2 forgotten by the listing", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.finished[2]
		return !ok && len(s.tracked) == 0
	})
}

// TestSyncerResolvesIdentity: the hub's identity is used; a job without
// one gets the id-mapper's.
func TestSyncerResolvesIdentity(t *testing.T) {
	hub, run := newFakeHub(), newFakeRunner()
	start(t, hub, run, func(c *Config) {
		c.Identity = func(_ context.Context, user string) (structs.Identity, bool, error) {
			return structs.Identity{UID: 2000, GID: 3000}, user == "carol", nil
		}
	})
	x := job(1, "east", structs.JobAssigned)
	x.Identity = &structs.Identity{UID: 1001, GID: 1002}
	hub.set(x)
	y := job(2, "east", structs.JobAssigned)
	y.Owner = "carol"
	hub.set(y)
	eventually(t, "both jobs added", func() bool { a, _, _ := run.counts(1); b, _, _ := run.counts(2); return a == 1 && b == 1 })
	run.mu.Lock()
	defer run.mu.Unlock()
	if got := run.added[1][0].Identity; got == nil || got.UID != 1001 || got.GID != 1002 {
		t.Errorf("the hub's identity not used: %+v", got)
	}
	if got := run.added[2][0].Identity; got == nil || got.UID != 2000 || got.GID != 3000 {
		t.Errorf("id-mapper identity not used: %+v", got)
	}
}

// TestCatalogReportSentWhenChanged: the catalog report goes with a push
// when it changed since the hub took it, and not with every heartbeat;
// a failed push sends it again; an unchanged one goes again after
// catalogRefresh.
func TestCatalogReportSentWhenChanged(t *testing.T) {
	hub, run := newFakeHub(), newFakeRunner()
	var mu sync.Mutex
	cur := &structs.ClusterCatalog{Apps: map[string]structs.ClusterApp{"s": {Image: "r/s:1",
		MachineTypes: map[string]structs.AppOnMachineType{"m4": {State: structs.AppPulling, Nodes: 2}}}}}
	_, clock := start(t, hub, run, func(c *Config) {
		c.Catalog = func() *structs.ClusterCatalog { mu.Lock(); defer mu.Unlock(); return cur }
	})
	catalogs := func() (pushes int, states []structs.AppPresence) {
		hub.mu.Lock()
		defer hub.mu.Unlock()
		for _, p := range hub.pushes {
			if p.Catalog != nil {
				states = append(states, p.Catalog.Apps["s"].MachineTypes["m4"].State)
			}
		}
		return len(hub.pushes), states
	}
	eventually(t, "five pushes", func() bool { n, _ := catalogs(); return n >= 5 })
	if _, states := catalogs(); !slices.Equal(states, []structs.AppPresence{structs.AppPulling}) {
		t.Fatalf("catalog pushed %v, want once (pulling)", states)
	}
	hub.mu.Lock()
	hub.failNext = 1
	hub.mu.Unlock()
	mu.Lock()
	cur = &structs.ClusterCatalog{Apps: map[string]structs.ClusterApp{"s": {Image: "r/s:1",
		MachineTypes: map[string]structs.AppOnMachineType{"m4": {State: structs.AppReady, Nodes: 2, Ready: 2}}}}}
	mu.Unlock()
	eventually(t, "the changed report pushed", func() bool { _, s := catalogs(); return len(s) == 2 })
	n, _ := catalogs()
	eventually(t, "five more pushes", func() bool { m, _ := catalogs(); return m >= n+5 })
	if _, states := catalogs(); !slices.Equal(states, []structs.AppPresence{structs.AppPulling, structs.AppReady}) {
		t.Errorf("catalog pushed %v, want pulling then ready once each", states)
	}
	clock.Add(catalogRefresh)
	eventually(t, "the unchanged report sent again after catalogRefresh", func() bool { _, s := catalogs(); return len(s) == 3 })
}

// TestCatalogRefusedByOlderHub: a hub replica that refuses the catalog
// report as an unknown field still gets the rest of the push (job
// reports are not held back), and the report is offered again only after
// a pause.
func TestCatalogRefusedByOlderHub(t *testing.T) {
	hub, run := newFakeHub(), newFakeRunner()
	hub.refuseCatalog = true
	cat := &structs.ClusterCatalog{Apps: map[string]structs.ClusterApp{"s": {Image: "r/s:1",
		MachineTypes: map[string]structs.AppOnMachineType{"m4": {State: structs.AppReady, Nodes: 1, Ready: 1}}}}}
	s, clock := start(t, hub, run, func(c *Config) { c.Catalog = func() *structs.ClusterCatalog { return cat } })
	offeredOncePerPause(t, hub, s, clock, "catalog", func() { hub.refuseCatalog = false }, catalogRefusedPause,
		func(pushes []*structs.ClusterStatusReport) bool {
			return slices.ContainsFunc(pushes, func(p *structs.ClusterStatusReport) bool { return p.Catalog != nil })
		})
}

// offeredOncePerPause drives an agent whose hub refuses one field of its
// push: the job report s holds goes through without it at once, the
// field is offered once while five more pushes go out, and after pause
// (with the hub taking it: accept) sent(pushes) comes true.
func offeredOncePerPause(t *testing.T, hub *fakeHub, s *Syncer, clock *testClock, what string, accept func(),
	pause time.Duration, sent func([]*structs.ClusterStatusReport) bool) {
	t.Helper()
	s.Report(structs.JobStateUpdate{ID: "j-1", Number: 1, State: structs.JobRunning})
	eventually(t, "the job report applied without the "+what, func() bool { return s.Pending() == 0 })
	hub.mu.Lock()
	n := len(hub.pushes)
	hub.mu.Unlock()
	eventually(t, "five more pushes", func() bool { hub.mu.Lock(); defer hub.mu.Unlock(); return len(hub.pushes) >= n+5 })
	hub.mu.Lock()
	refusals := hub.refusals
	accept()
	hub.mu.Unlock()
	if refusals != 1 {
		t.Errorf("%s offered %d times within the pause, want once", what, refusals)
	}
	clock.Add(pause)
	eventually(t, "the "+what+" sent after the pause", func() bool {
		hub.mu.Lock()
		defer hub.mu.Unlock()
		return sent(hub.pushes)
	})
}

// TestAgentFeaturesToOlderHub: a hub older than agents' feature reports
// refuses the push's unknown "agent" field (400); the agent sends the
// rest at once (job reports are not held back), leaves the field out for
// a pause, then offers it again, and a hub that takes it gets it in
// every push.
func TestAgentFeaturesToOlderHub(t *testing.T) {
	hub, run := newFakeHub(), newFakeRunner()
	hub.preFeatures = true
	info := &structs.AgentInfo{Version: "v1.2.3", Features: []structs.AgentFeature{structs.FeatureArrayJobs, structs.FeatureJobEnv}}
	s, clock := start(t, hub, run, func(c *Config) { c.Agent = info })
	offeredOncePerPause(t, hub, s, clock, "features", func() { hub.preFeatures = false }, agentRefusedPause,
		func(pushes []*structs.ClusterStatusReport) bool { // in every push from then on
			last := len(pushes) - 1
			return last >= 2 && pushes[last].Agent.Equal(info) && pushes[last-1].Agent.Equal(info)
		})
}
