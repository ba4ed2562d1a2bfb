package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/clusteragent/binder"
	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// SchedLoop runs level 2: whenever the cache changes it brings its
// snapshot (a scheduler.State kept between passes) up to date, asks the
// pure scheduler for whole-gang bindings, assumes them in the cache
// and hands them to the binder. A gang left partly bound with its head
// unbound (a crash, a failed bind) never ran: it is completed when the rest
// fits now and it did not just fail, else torn down so level 1 rebuilds it
// and it is scheduled whole.
type SchedLoop struct {
	Cache   *cache.Cache
	Binder  *binder.Binder
	Options scheduler.Options
	Now     func() time.Time
	Log     *slog.Logger
	// Refresh re-runs a cycle at least this often (reasons age; default 2 s).
	Refresh time.Duration
	// OnTeardown is told before a partly bound gang's pods are deleted,
	// OnTornDown after, with the UID of the head the teardown deleted
	// unbound ("" if none): a start record naming it is void.
	OnTeardown func(cache.GangID)
	OnTornDown func(cache.GangID, types.UID)
	// OnCycle, if set, is told how long each scheduling cycle (and each
	// pass placing pre-placed creates) took and how many gangs wait;
	// OnBind of every gang bind (metrics).
	OnCycle func(took time.Duration, pending int)
	OnBind  func(took time.Duration, err error)
	// JobLog returns the logger of the lines about a gang's job
	// (runtime.Reconciler.JobLog); nil logs them on Log with the number.
	JobLog func(cache.GangID) *slog.Logger

	// BeforeCreate, if set, is called between the placement of a gang
	// created pre-placed (CreatePlaced) and its creates: a hook for tests
	// that change the cluster in that window.
	BeforeCreate func(gang cache.GangID, nodes []string)

	// schedMu makes snapshot, decision and assumption one step, for the
	// cycles and the pre-placed creates alike.
	schedMu sync.Mutex
	// state is the cluster as the passes see it, kept between them and
	// caught up with the cache's changes (view), built at node generation
	// stateGen; under schedMu.
	state    *scheduler.State
	stateGen uint64
	// qmu guards the placements waiting for a pass (see place).
	qmu     sync.Mutex
	queue   []placeReq
	placing bool

	mu       sync.Mutex
	pending  map[cache.GangID]scheduler.Pending // why each gang waits
	tearing  map[cache.GangID]bool              // partly bound gangs being deleted
	failed   map[cache.GangID]bool              // gangs whose last bind failed
	bound    uint64                             // gangs bound since start
	failures uint64                             // gang binds that failed
	// created counts gangs created pre-placed, createFailures the
	// pre-placed creates rolled back.
	created, createFailures uint64
}

// Run schedules until ctx ends.
func (l *SchedLoop) Run(ctx context.Context) {
	if l.Now == nil {
		l.Now = time.Now
	}
	if l.Log == nil {
		l.Log = slog.New(slog.DiscardHandler)
	}
	if l.Refresh == 0 {
		l.Refresh = 2 * time.Second
	}
	tick := time.NewTicker(l.Refresh)
	defer tick.Stop()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.Cache.Changed():
		case <-tick.C:
		}
		l.cycle(ctx, &inflight)
	}
}

func (l *SchedLoop) cycle(ctx context.Context, inflight *sync.WaitGroup) {
	if l.OnCycle != nil {
		defer l.cycleDone(l.Now())
	}
	if !l.Cache.HasPending() {
		l.setPending(nil, nil)
		return // nothing to schedule: no snapshot of the whole cluster
	}
	l.schedMu.Lock()
	defer l.schedMu.Unlock()
	gangs, partial := l.view()
	if l.completeOrTeardown(ctx, partial, inflight) {
		gangs, _ = l.view() // with the completions assumed
	}
	if len(gangs) == 0 {
		l.setPending(nil, nil)
		return
	}
	byID := make(map[string]*cache.PendingGang, len(gangs))
	in := make([]scheduler.Gang, len(gangs))
	for i := range gangs {
		in[i] = gangs[i].Gang
		byID[gangs[i].Gang.ID] = &gangs[i]
	}
	res := l.state.Schedule(in, l.Options, l.Now())
	for _, b := range res.Bindings {
		l.bind(ctx, byID[b.GangID], b.Nodes, inflight)
	}
	l.setPending(res.Pending, byID)
}

// cycleDone tells OnCycle how long the pass begun at start took and how
// many gangs wait.
func (l *SchedLoop) cycleDone(start time.Time) {
	l.mu.Lock()
	n := len(l.pending)
	l.mu.Unlock()
	l.OnCycle(l.Now().Sub(start), n)
}

// view brings the placement state up to date with the cache (the nodes
// whose pods changed since the last pass; every node after a node
// changed) and returns the gangs waiting; schedMu is held.
func (l *SchedLoop) view() ([]cache.PendingGang, []cache.PartialGang) {
	ch, gangs, partial := l.Cache.PlaceView(l.stateGen, l.state != nil)
	if ch.Full {
		l.state, l.stateGen = scheduler.NewState(ch.Nodes, l.Options), ch.Gen
	}
	for node, pods := range ch.Loads {
		l.state.SetLoads(node, pods)
	}
	return gangs, partial
}

// completeOrTeardown binds the rest of the partly bound gangs that fit now
// (ahead of every new gang: they hold nodes already) and tears down the
// others; it reports whether it bound any.
func (l *SchedLoop) completeOrTeardown(ctx context.Context, partial []cache.PartialGang, inflight *sync.WaitGroup) bool {
	var rest []scheduler.Gang
	byID := map[string]*cache.PartialGang{}
	for i := range partial {
		p := &partial[i]
		l.mu.Lock()
		failed, tearing := l.failed[p.Rest.ID], l.tearing[p.Rest.ID]
		l.mu.Unlock()
		switch {
		case tearing:
		case !p.Completable || failed:
			l.teardown(ctx, *p, inflight)
		default:
			rest = append(rest, p.Rest.Gang)
			byID[p.Rest.Gang.ID] = p
		}
	}
	if len(rest) == 0 {
		return false
	}
	opts := l.Options
	opts.Backfill, opts.MaxGangsPerCycle = false, 0
	res := l.state.Schedule(rest, opts, l.Now())
	for _, b := range res.Bindings {
		p := byID[b.GangID]
		l.gangLog(p.Rest.ID).Info("completing a partly bound gang", "gang", p.Rest.ID.String(), "bound", len(p.Bound), "binding", len(p.Rest.Pods))
		l.bind(ctx, &p.Rest, b.Nodes, inflight)
	}
	for _, w := range res.Pending {
		p := byID[w.GangID]
		l.gangLog(p.Rest.ID).Info("tearing down a partly bound gang whose rest does not fit", "gang", p.Rest.ID.String(), "reason", w.Reason)
		l.teardown(ctx, *p, inflight)
	}
	return len(res.Bindings) > 0
}

// bind assumes a gang's bindings in the cache and binds it in the background.
func (l *SchedLoop) bind(ctx context.Context, g *cache.PendingGang, nodes []string, inflight *sync.WaitGroup) {
	l.Cache.Assume(g.Pods, nodes)
	inflight.Add(1)
	go func() {
		defer inflight.Done()
		start := l.Now()
		err := l.Binder.BindGang(ctx, *g, nodes)
		if l.OnBind != nil && ctx.Err() == nil {
			l.OnBind(l.Now().Sub(start), err)
		}
		l.mu.Lock()
		if err != nil {
			l.failures++
			if l.failed == nil {
				l.failed = map[cache.GangID]bool{}
			}
			l.failed[g.ID] = true
		} else {
			l.bound++
			delete(l.failed, g.ID)
		}
		l.mu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				l.gangLog(g.ID).Warn("gang bind failed", "gang", g.ID.String(), "err", err)
			}
			l.Cache.Forget(g.Pods)
		} else if l.infoOn(ctx) {
			l.gangLog(g.ID).Info("gang bound", "gang", g.ID.String(), "pods", len(g.Pods), "took", l.Now().Sub(start))
		}
	}()
}

// teardown deletes a partly bound gang whose head is unbound, once at a
// time per gang.
func (l *SchedLoop) teardown(ctx context.Context, p cache.PartialGang, inflight *sync.WaitGroup) {
	id := p.Rest.ID
	l.mu.Lock()
	if l.tearing[id] {
		l.mu.Unlock()
		return
	}
	if l.tearing == nil {
		l.tearing = map[cache.GangID]bool{}
	}
	l.tearing[id] = true
	l.mu.Unlock()
	if l.OnTeardown != nil {
		l.OnTeardown(id)
	}
	inflight.Add(1)
	go func() {
		defer inflight.Done()
		void, err := l.Binder.Teardown(ctx, p)
		if err != nil && ctx.Err() == nil {
			l.gangLog(id).Warn("tearing down a partly bound gang", "gang", id.String(), "err", err)
		} else if err == nil {
			l.gangLog(id).Info("tore down a partly bound gang", "gang", id.String(), "bound", len(p.Bound))
		}
		l.mu.Lock()
		delete(l.tearing, id)
		delete(l.failed, id)
		l.mu.Unlock()
		if l.OnTornDown != nil {
			l.OnTornDown(id, void)
		}
	}()
}

func (l *SchedLoop) setPending(p []scheduler.Pending, byID map[string]*cache.PendingGang) {
	m := make(map[cache.GangID]scheduler.Pending, len(p))
	for _, x := range p {
		if g := byID[x.GangID]; g != nil {
			m[g.ID] = x
		}
	}
	l.mu.Lock()
	l.pending = m
	l.mu.Unlock()
}

// Why returns the latest reason a gang is pending.
func (l *SchedLoop) Why(gangID cache.GangID) (scheduler.Pending, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.pending[gangID]
	return p, ok
}

// Stats returns gangs bound and failed binds since start.
func (l *SchedLoop) Stats() (bound, failures uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bound, l.failures
}

// infoOn reports whether Info lines are logged: the lines of every gang
// bound are made only then (a job's logger and its attributes cost
// allocations per gang even when the line is dropped).
func (l *SchedLoop) infoOn(ctx context.Context) bool {
	return l.Log == nil || l.Log.Enabled(ctx, slog.LevelInfo)
}

// gangLog is the logger of the lines about a gang: its job's.
func (l *SchedLoop) gangLog(id cache.GangID) *slog.Logger {
	if l.JobLog != nil {
		return l.JobLog(id)
	}
	return l.Log.With(structs.LogJobNumber, id.Number)
}
