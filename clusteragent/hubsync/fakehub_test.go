package hubsync

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// fakeHub serves self-contained assignments from a versioned set, pages
// them as the hub does, and answers status pushes with scripted outcomes.
// It offers nothing but the two calls of Hub: an agent that needed any
// other could not run against it.
type fakeHub struct {
	mu       sync.Mutex
	index    uint64
	jobs     map[uint64]*structs.Assignment
	mts      []*structs.MachineType
	mtIndex  uint64
	changed  chan struct{}
	queries  []client.AssignmentQuery
	pushes   []*structs.ClusterStatusReport
	failNext int // fail this many pushes
	// refuseCatalog answers a push with a catalog report as invalid (a
	// replica older than the report); refusals counts them.
	refuseCatalog bool
	refusals      int
	// preFeatures decodes pushes as a hub older than agents' feature
	// reports does: strictly, into its report type (unknown fields are
	// refused as invalid, 400).
	preFeatures bool
	// script, if set, gives a report's outcome; nil answers applied.
	script func(r structs.JobReport, sent int) structs.ReportOutcome
	sent   map[string]int // "number:state" → times pushed
}

func newFakeHub() *fakeHub {
	return &fakeHub{jobs: map[uint64]*structs.Assignment{}, changed: make(chan struct{}), sent: map[string]int{},
		mts: []*structs.MachineType{{Name: "m4", Cores: 4, RAM: 8, Cluster: "east"}}}
}

func (h *fakeHub) bump() {
	h.index++
	close(h.changed)
	h.changed = make(chan struct{})
}

// set stores a job as the hub would resolve it for east's agent.
func (h *fakeHub) set(j *structs.Job) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bump()
	j.ModifyIndex = h.index
	a := &structs.Assignment{Job: j}
	if j.State.OnCluster() {
		a.MachineType = &structs.MachineType{Name: j.MachineType, Cores: 4, RAM: 8, Cluster: j.Cluster}
		a.Command = &structs.Command{Path: "/opt/" + j.App}
		a.Image = j.App + ":1"
		a.Identity = j.Identity
	}
	h.jobs[j.Number] = a
}

// setMachineTypes replaces the catalog's machine types.
func (h *fakeHub) setMachineTypes(mts ...*structs.MachineType) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bump()
	h.mts, h.mtIndex = mts, h.index
}

func (h *fakeHub) Assignments(ctx context.Context, cluster string, q client.AssignmentQuery) (*structs.AssignmentList, error) {
	deadline := time.NewTimer(q.Wait)
	defer deadline.Stop()
	h.mu.Lock()
	h.queries = append(h.queries, q)
	h.mu.Unlock()
	for {
		h.mu.Lock()
		ch := h.changed
		var out []*structs.Assignment
		for _, a := range h.jobs {
			j := a.Job
			var in bool
			if q.Index == 0 {
				in = j.Cluster == cluster && j.State.OnCluster()
			} else {
				in = (j.Cluster == cluster || j.PreviousCluster == cluster) && j.ModifyIndex > q.Index
			}
			if in && j.Number > q.After {
				c := *a
				jc := *j
				c.Job = &jc
				out = append(out, &c)
			}
		}
		slices.SortFunc(out, func(a, b *structs.Assignment) int { return cmp.Compare(a.Job.Number, b.Job.Number) })
		var next uint64
		if q.Limit > 0 && len(out) > q.Limit {
			out = out[:q.Limit]
			next = out[q.Limit-1].Job.Number
		}
		var mts []*structs.MachineType
		for _, m := range h.mts {
			if m.Cluster == cluster {
				c := *m
				mts = append(mts, &c)
			}
		}
		list := &structs.AssignmentList{Assignments: out, MachineTypes: mts, Index: h.index, Next: next}
		catalog := q.Index > 0 && h.mtIndex > q.Index
		h.mu.Unlock()
		if q.Index == 0 || len(out) > 0 || catalog || q.Wait == 0 {
			return list, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		case <-deadline.C:
			return list, nil
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
	if h.refuseCatalog && rep.Catalog != nil {
		h.refusals++
		return nil, structs.Errorf(structs.ErrInvalid, "unknown field \"catalog\"")
	}
	if h.preFeatures {
		if err := decodeAsPreFeaturesHub(rep); err != nil {
			h.refusals++
			return nil, err
		}
	}
	h.pushes = append(h.pushes, rep)
	res := &structs.ClusterStatusResult{}
	for _, r := range rep.Jobs {
		key := fmt.Sprintf("%d:%s", r.Number, r.State)
		h.sent[key]++
		out := structs.ReportApplied
		if h.script != nil {
			out = h.script(r, h.sent[key])
		}
		res.Jobs = append(res.Jobs, structs.JobReportResult{ID: r.ID, Number: r.Number, Outcome: out})
	}
	return res, nil
}

// preFeaturesReport is structs.ClusterStatusReport as a hub older than
// agents' feature reports has it.
type preFeaturesReport struct {
	Status   structs.ClusterStatus       `json:"status,omitempty"`
	Capacity map[string]structs.Capacity `json:"capacity,omitempty"`
	Jobs     []structs.JobReport         `json:"jobs,omitempty"`
	Catalog  *structs.ClusterCatalog     `json:"catalog,omitempty"`
}

// decodeAsPreFeaturesHub sends rep through the wire as the client does
// and decodes it as such a hub's API does (unknown fields refused).
func decodeAsPreFeaturesHub(rep *structs.ClusterStatusReport) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&preFeaturesReport{}); err != nil {
		return structs.Errorf(structs.ErrInvalid, "request body: %v", err)
	}
	return nil
}

// sentCount is how often a report of job number in state was pushed.
func (h *fakeHub) sentCount(number uint64, st structs.JobState) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent[fmt.Sprintf("%d:%s", number, st)]
}

func (h *fakeHub) pushCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pushes)
}

// capacityKeys are the machine types of the latest push with capacity.
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

// fakeRunner records what hubsync asks of the runner.
type fakeRunner struct {
	mu       sync.Mutex
	added    map[uint64][]*structs.Assignment
	canceled map[uint64]int
	acked    map[uint64]int
	resyncs  []map[uint64]bool
	// onAdd, if set, runs on every Add (outside the lock).
	onAdd func(a *structs.Assignment)
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{added: map[uint64][]*structs.Assignment{}, canceled: map[uint64]int{}, acked: map[uint64]int{}}
}

func (r *fakeRunner) Add(a *structs.Assignment) {
	r.mu.Lock()
	r.added[a.Job.Number] = append(r.added[a.Job.Number], a)
	f := r.onAdd
	r.mu.Unlock()
	if f != nil {
		f(a)
	}
}

func (r *fakeRunner) Cancel(n uint64) {
	r.mu.Lock()
	r.canceled[n]++
	r.mu.Unlock()
}

func (r *fakeRunner) Acknowledged(n uint64) {
	r.mu.Lock()
	r.acked[n]++
	r.mu.Unlock()
}

func (r *fakeRunner) Resync(active map[uint64]bool) {
	r.mu.Lock()
	r.resyncs = append(r.resyncs, active)
	r.mu.Unlock()
}

func (r *fakeRunner) counts(n uint64) (added, canceled, acked int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.added[n]), r.canceled[n], r.acked[n]
}

func (r *fakeRunner) lastResync() (map[uint64]bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.resyncs) == 0 {
		return nil, 0
	}
	return r.resyncs[len(r.resyncs)-1], len(r.resyncs)
}

// eventually waits for cond, failing the test after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testClock is a clock tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// start runs a Syncer for east against hub and run until the test ends.
func start(t *testing.T, hub *fakeHub, run *fakeRunner, mod func(*Config)) (*Syncer, *testClock) {
	t.Helper()
	clock := &testClock{now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	cfg := Config{Hub: hub, Cluster: "east", Runner: run, Heartbeat: 20 * time.Millisecond, Wait: 50 * time.Millisecond,
		Resync: time.Hour, Backoff: time.Millisecond, Now: clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	s := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, clock
}

func job(number uint64, cluster string, st structs.JobState) *structs.Job {
	return &structs.Job{ID: fmt.Sprintf("j-%d", number), Number: number, Owner: "dave", App: "solver",
		Cluster: cluster, State: st, MachineType: "m4", Nodes: 1}
}
