package agent

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/clusteragent/binder"
	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
)

// placeReq is one gang waiting for a placement.
type placeReq struct {
	g     cache.PendingGang
	reply chan []string // the nodes, or nil: not placed
}

// CreatePlaced creates the pods of one of the agent's own gangs pre-placed
// (the runtime's Placer): it places the gang against the cache, behind the
// gangs already waiting (the scheduler's order, backfill and isolation
// rules apply as in a cycle), assumes its pods on their nodes and has the
// binder create each with its node set. placed is false when the gang
// cannot be placed now: nothing was created, and the caller creates the
// pods unbound for level 2 as usual (so "why" and the capacity reports see
// it). A create that fails part way is rolled back whole by the binder and
// forgotten here; the caller re-queues the gang (void: see
// binder.CreateGang). One the binder left to level 2 (every pod created,
// the head unbound: binder.ErrLeftToLevel2) is success here: its pods
// exist and level 2 completes the gang. Placements requested at the same
// time are made in one scheduling pass.
func (l *SchedLoop) CreatePlaced(ctx context.Context, sec *corev1.Secret, pods []*corev1.Pod) (placed bool, void types.UID, err error) {
	var ref cache.SecretRef
	if sec != nil {
		ref = cache.SecretRef{Name: sec.Name, UID: sec.UID}
	}
	g, err := cache.NewGang(pods, ref)
	if err != nil {
		return false, "", err
	}
	nodes := l.place(g)
	if nodes == nil {
		return false, "", nil
	}
	if l.BeforeCreate != nil {
		l.BeforeCreate(g.ID, nodes)
	}
	var start time.Time
	if l.Now != nil {
		start = l.Now()
	}
	void, err = l.Binder.CreateGang(ctx, pods, nodes, sec, l.Cache.NodeExists)
	if errors.Is(err, binder.ErrLeftToLevel2) {
		// Every pod exists, the head unbound, the start record perhaps
		// naming it: level 2 completes the gang (or tears it down); the
		// runner must not re-queue it.
		l.Cache.LeaveNew(g.Pods)
		if ctx.Err() == nil {
			l.gangLog(g.ID).Warn("pre-placed create left to level 2", "gang", g.ID.String(), "err", err)
		}
		err = nil
	}
	if l.OnBind != nil && l.Now != nil && ctx.Err() == nil {
		// A pre-placed create is this gang's bind: the same series.
		l.OnBind(l.Now().Sub(start), err)
	}
	l.mu.Lock()
	if err != nil {
		l.createFailures++
	} else {
		l.created++
	}
	l.mu.Unlock()
	if err != nil {
		l.Cache.ForgetNew(g.Pods)
		if ctx.Err() == nil && !errors.Is(err, binder.ErrGangExists) {
			l.gangLog(g.ID).Warn("pre-placed create failed; the gang is re-queued whole", "gang", g.ID.String(), "err", err)
		}
		return true, void, err
	}
	if l.infoOn(ctx) {
		took := time.Duration(0)
		if l.Now != nil {
			took = l.Now().Sub(start)
		}
		// The bind path's line, so one search finds every gang placed.
		l.gangLog(g.ID).Info("gang bound", "gang", g.ID.String(), "pods", len(g.Pods), "took", took, "created", "pre-placed")
	}
	return true, "", nil
}

// place queues g and returns its nodes (nil: not placed now). The first
// caller to find no pass running runs passes until the queue is empty;
// the others wait for its answer.
func (l *SchedLoop) place(g cache.PendingGang) []string {
	req := placeReq{g: g, reply: make(chan []string, 1)}
	l.qmu.Lock()
	l.queue = append(l.queue, req)
	if l.placing {
		l.qmu.Unlock()
		return <-req.reply
	}
	l.placing = true
	for len(l.queue) > 0 {
		batch := l.queue
		l.queue = nil
		l.qmu.Unlock()
		l.placeBatch(batch)
		l.qmu.Lock()
	}
	l.placing = false
	l.qmu.Unlock()
	return <-req.reply
}

// placeBatch places new gangs in one scheduling pass, answering each.
func (l *SchedLoop) placeBatch(batch []placeReq) {
	out := make([][]string, len(batch))
	defer func() {
		for i, r := range batch {
			r.reply <- out[i]
		}
	}()
	if !l.Cache.Synced() {
		return
	}
	l.schedMu.Lock()
	defer l.schedMu.Unlock()
	if l.OnCycle != nil {
		// A pass for pre-placed creates is a scheduling cycle too: with
		// every job of the agent's own created pre-placed, level 2 may
		// have nothing to do for a while, and the latency series would
		// not show how long placing takes.
		defer l.cycleDone(l.Now())
	}
	gangs, _ := l.view()
	in := make([]scheduler.Gang, 0, len(gangs)+len(batch))
	for i := range gangs {
		in = append(in, gangs[i].Gang)
	}
	idx := make(map[string]int, len(batch))
	for i, r := range batch {
		in = append(in, r.g.Gang)
		idx[r.g.Gang.ID] = i
	}
	res := l.state.Schedule(in, l.Options, l.Now())
	for _, b := range res.Bindings {
		i, ok := idx[b.GangID]
		if ok && l.Cache.AssumeNew(batch[i].g, b.Nodes) {
			out[i] = b.Nodes
		}
	}
}

// CreateStats returns the gangs created pre-placed and the pre-placed
// creates that failed (and were rolled back) since start.
func (l *SchedLoop) CreateStats() (created, failures uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.created, l.createFailures
}
