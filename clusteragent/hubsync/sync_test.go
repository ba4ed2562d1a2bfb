package hubsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// fakeHub serves assignments from a versioned job list and records pushes.
type fakeHub struct {
	mu       sync.Mutex
	index    uint64
	jobs     map[string]*structs.Job
	changed  chan struct{}
	pushes   []*structs.ClusterStatusReport
	failNext int // fail this many pushes
}

func newFakeHub() *fakeHub {
	return &fakeHub{jobs: map[string]*structs.Job{}, changed: make(chan struct{})}
}

func (h *fakeHub) set(j *structs.Job) {
	h.mu.Lock()
	h.index++
	j.ModifyIndex = h.index
	h.jobs[j.ID] = j
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

func (h *fakeHub) remove(id string) {
	h.mu.Lock()
	h.index++
	delete(h.jobs, id)
	h.mu.Unlock()
}

func (h *fakeHub) Assignments(ctx context.Context, cluster string, index uint64, wait time.Duration) (*structs.AssignmentList, error) {
	for {
		h.mu.Lock()
		ch := h.changed
		var out []*structs.Job
		for _, j := range h.jobs {
			if j.Cluster == cluster && (index == 0 || j.ModifyIndex > index) {
				c := *j
				out = append(out, &c)
			}
		}
		idx := h.index
		h.mu.Unlock()
		if len(out) > 0 || wait == 0 {
			return &structs.AssignmentList{Jobs: out, Index: idx}, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-ch:
			t.Stop()
		case <-t.C:
			return &structs.AssignmentList{Index: idx}, nil
		}
	}
}

func (h *fakeHub) PushStatus(_ context.Context, _ string, rep *structs.ClusterStatusReport) (*structs.ClusterStatusResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failNext > 0 {
		h.failNext--
		return nil, errors.New("hub unavailable")
	}
	h.pushes = append(h.pushes, rep)
	return &structs.ClusterStatusResult{}, nil
}

func (h *fakeHub) GetMachineType(_ context.Context, name string) (*structs.MachineType, error) {
	return &structs.MachineType{Name: name, Cores: 4, RAM: 8, Cluster: "east"}, nil
}

func (h *fakeHub) GetApp(_ context.Context, name string) (*structs.App, error) {
	return nil, structs.Errorf(structs.ErrNotFound, "app %s", name)
}

func (h *fakeHub) GetVault(_ context.Context, tenant, name string) (*structs.Vault, error) {
	return nil, structs.Errorf(structs.ErrNotFound, "vault %s/%s", tenant, name)
}

func (h *fakeHub) ListMachineTypes(context.Context) ([]*structs.MachineType, error) {
	return []*structs.MachineType{{Name: "m4", Cores: 4, RAM: 8, Cluster: "east"}, {Name: "w4", Cores: 4, RAM: 8, Cluster: "west"}}, nil
}

func (h *fakeHub) reportedStates() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, p := range h.pushes {
		for _, j := range p.Jobs {
			out = append(out, j.ID+":"+string(j.State))
		}
	}
	return out
}

func (h *fakeHub) capacityKeys() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.pushes) - 1; i >= 0; i-- {
		if h.pushes[i].Capacity != nil {
			var ks []string
			for k := range h.pushes[i].Capacity {
				ks = append(ks, k)
			}
			slices.Sort(ks)
			return ks
		}
	}
	return nil
}

type fakeRunner struct {
	mu       sync.Mutex
	added    map[uint64]int
	canceled map[uint64]int
	ids      map[uint64]structs.Identity
}

func (r *fakeRunner) Add(js agent.JobSpec) {
	r.mu.Lock()
	r.added[js.Job.Number]++
	if r.ids == nil {
		r.ids = map[uint64]structs.Identity{}
	}
	r.ids[js.Job.Number] = js.Identity
	r.mu.Unlock()
}

func (r *fakeRunner) Cancel(n uint64) {
	r.mu.Lock()
	r.canceled[n]++
	r.mu.Unlock()
}

func (r *fakeRunner) counts(n uint64) (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.added[n], r.canceled[n]
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSyncerFollowsAssignments(t *testing.T) {
	hub := newFakeHub()
	run := &fakeRunner{added: map[uint64]int{}, canceled: map[uint64]int{}}
	var clock sync.Mutex
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	s := New(Config{
		Hub: hub, Cluster: "east", Runner: run,
		Capacity: func(mts []*structs.MachineType) map[string]structs.Capacity {
			out := map[string]structs.Capacity{}
			for _, m := range mts {
				out[m.Name] = structs.Capacity{Free: 1, Total: 2}
			}
			return out
		},
		Why:       func(n uint64) (string, bool) { return fmt.Sprintf("needs %d nodes", n), n == 2 },
		Heartbeat: 20 * time.Millisecond, Wait: 50 * time.Millisecond, Resync: time.Hour,
		Now: func() time.Time { clock.Lock(); defer clock.Unlock(); return now },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	hub.set(&structs.Job{ID: "a", Number: 1, Cluster: "east", State: structs.JobAssigned, MachineType: "m4", Nodes: 1})
	hub.set(&structs.Job{ID: "b", Number: 2, Cluster: "east", State: structs.JobAssigned, MachineType: "m4", Nodes: 2})
	hub.set(&structs.Job{ID: "w", Number: 3, Cluster: "west", State: structs.JobAssigned, MachineType: "w4", Nodes: 1})
	eventually(t, "jobs a and b handed to the runner", func() bool {
		a, _ := run.counts(1)
		b, _ := run.counts(2)
		return a == 1 && b == 1
	})
	if w, _ := run.counts(3); w != 0 {
		t.Errorf("job of another cluster handed to the runner")
	}
	// Re-delivery of the same assignment does not add it twice.
	hub.set(&structs.Job{ID: "a", Number: 1, Cluster: "east", State: structs.JobRunning, MachineType: "m4", Nodes: 1})
	// The runner's reports reach the hub, also across a failed push.
	hub.mu.Lock()
	hub.failNext = 2
	hub.mu.Unlock()
	s.Report(structs.JobStateUpdate{ID: "a", State: structs.JobRunning})
	s.Report(structs.JobStateUpdate{ID: "a", State: structs.JobCompleted})
	eventually(t, "reports pushed after failures", func() bool {
		st := hub.reportedStates()
		return slices.Contains(st, "a:RUNNING") && slices.Contains(st, "a:COMPLETED") && slices.Contains(st, "b:ASSIGNED")
	})
	if got := hub.capacityKeys(); !slices.Equal(got, []string{"m4"}) {
		t.Errorf("capacity pushed for %v, want only this cluster's machine type m4", got)
	}
	if a, _ := run.counts(1); a != 1 {
		t.Errorf("job a added %d times", a)
	}
	// A job canceled at the hub is canceled here.
	hub.set(&structs.Job{ID: "b", Number: 2, Cluster: "east", State: structs.JobCanceled, MachineType: "m4", Nodes: 2})
	eventually(t, "cancel of b", func() bool { _, c := run.counts(2); return c == 1 })

	// A job moved away while the watch was not looking: the full resync stops it.
	hub.set(&structs.Job{ID: "c", Number: 4, Cluster: "east", State: structs.JobAssigned, MachineType: "m4", Nodes: 1})
	eventually(t, "job c added", func() bool { a, _ := run.counts(4); return a == 1 })
	hub.remove("c")
	clock.Lock()
	now = now.Add(2 * time.Hour)
	clock.Unlock()
	hub.set(&structs.Job{ID: "d", Number: 5, Cluster: "west", State: structs.JobAssigned, MachineType: "w4", Nodes: 1}) // wake the watch
	eventually(t, "job c canceled by resync", func() bool { _, c := run.counts(4); return c == 1 })
}

func TestSyncerResolvesIdentity(t *testing.T) {
	hub := newFakeHub()
	run := &fakeRunner{added: map[uint64]int{}, canceled: map[uint64]int{}}
	s := New(Config{Hub: hub, Cluster: "east", Runner: run, Heartbeat: 20 * time.Millisecond, Wait: 50 * time.Millisecond,
		Identity: func(_ context.Context, user string) (structs.Identity, bool, error) {
			return structs.Identity{UID: 2000, GID: 3000}, user == "carol", nil
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	hub.set(&structs.Job{ID: "x", Number: 1, Owner: "dave", Cluster: "east", State: structs.JobAssigned, MachineType: "m4", Nodes: 1,
		Identity: &structs.Identity{UID: 1001, GID: 1002}})
	hub.set(&structs.Job{ID: "y", Number: 2, Owner: "carol", Cluster: "east", State: structs.JobAssigned, MachineType: "m4", Nodes: 1})
	eventually(t, "both jobs added", func() bool { a, _ := run.counts(1); b, _ := run.counts(2); return a == 1 && b == 1 })
	run.mu.Lock()
	defer run.mu.Unlock()
	if got := run.ids[1]; got.UID != 1001 || got.GID != 1002 {
		t.Errorf("stamped identity not used: %+v", got)
	}
	if got := run.ids[2]; got.UID != 2000 || got.GID != 3000 {
		t.Errorf("id-mapper identity not used: %+v", got)
	}
}
