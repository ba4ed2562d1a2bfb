package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/binder"
	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
)

// SchedLoop runs level 2: whenever the cache changes it takes a snapshot,
// asks the pure scheduler for whole-gang bindings, assumes them in the cache
// and hands them to the binder. Gangs left partly bound (a crash or a failed
// bind) are torn down so they are rebuilt and scheduled whole.
type SchedLoop struct {
	Cache   *cache.Cache
	Binder  *binder.Binder
	Options scheduler.Options
	Now     func() time.Time
	Log     *slog.Logger
	// Refresh re-runs a cycle at least this often (reasons age; default 2 s).
	Refresh time.Duration
	// OnTeardown is told before a partly bound gang's pods are deleted.
	OnTeardown func(cache.GangID)

	mu       sync.Mutex
	pending  map[cache.GangID]scheduler.Pending // why each gang waits
	tearing  map[cache.GangID]bool              // broken gangs being deleted
	bound    uint64                             // gangs bound since start
	failures uint64                             // gang binds that failed
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
	snap, gangs, broken := l.Cache.Snapshot()
	l.teardown(ctx, broken, inflight)
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
	res := scheduler.Schedule(snap, in, l.Options, l.Now())
	for _, b := range res.Bindings {
		g := byID[b.GangID]
		l.Cache.Assume(g.Pods, b.Nodes)
		inflight.Add(1)
		go func(g *cache.PendingGang, nodes []string) {
			defer inflight.Done()
			err := l.Binder.BindGang(ctx, g.ID, g.Pods, nodes)
			l.mu.Lock()
			if err != nil {
				l.failures++
			} else {
				l.bound++
			}
			l.mu.Unlock()
			if err != nil {
				l.Log.Warn("gang bind failed", "gang", g.ID, "err", err)
				l.Cache.Forget(g.Pods)
			}
		}(g, b.Nodes)
	}
	l.setPending(res.Pending, byID)
}

// teardown deletes every pod of gangs found partly bound, once per gang.
func (l *SchedLoop) teardown(ctx context.Context, broken []cache.GangID, inflight *sync.WaitGroup) {
	if len(broken) == 0 {
		return
	}
	l.mu.Lock()
	var todo []cache.GangID
	for _, id := range broken {
		if !l.tearing[id] {
			if l.tearing == nil {
				l.tearing = map[cache.GangID]bool{}
			}
			l.tearing[id] = true
			todo = append(todo, id)
		}
	}
	l.mu.Unlock()
	for _, id := range todo {
		if l.OnTeardown != nil {
			l.OnTeardown(id)
		}
		inflight.Add(1)
		go func(id cache.GangID) {
			defer inflight.Done()
			err := l.Binder.DeleteJobPods(ctx, id)
			l.Log.Info("tore down partly bound gang", "gang", id, "err", err)
			l.mu.Lock()
			delete(l.tearing, id)
			l.mu.Unlock()
		}(id)
	}
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
