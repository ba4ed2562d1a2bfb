package cache

import (
	"slices"
	"sort"

	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
)

// Snapshot returns the cluster for level 2, the new gangs ready to
// schedule (every rank exists, none bound), and the partly bound gangs
// whose head is unbound (left by a crash or a failed bind), which the
// caller completes or tears down so that a gang runs whole or not at all.
// A gang with a bind in flight (assumed pods) is neither; a gang whose head
// is bound is never returned: its head may have run.
//
// Snapshot.Nodes is shared with the cache and later snapshots: it is
// never modified (a node change makes a new list), nor may callers modify
// it. Snapshot.Pods holds one entry per node and tenant, the sum of the
// requests of its pods bound or assumed there (each counting as at least
// one pod): all a scheduling pass needs, kept as pods come and go, so a
// pass does not walk every pod of the cluster.
func (c *Cache) Snapshot() (scheduler.Snapshot, []PendingGang, []PartialGang) {
	c.mu.Lock()
	defer c.mu.Unlock()
	snap := scheduler.Snapshot{Nodes: c.sortedNodes(), Pods: c.loadPods()}
	gangs, partial := c.pendingGangs()
	return snap, gangs, partial
}

// PlaceView is Snapshot for a caller that keeps its placement state
// between passes (scheduler.State, built at node generation gen; have:
// it has one): the cluster's changes since its last call instead of a
// snapshot, and the gangs as Snapshot returns them, in one step. One
// caller only (see LoadChanges).
func (c *Cache) PlaceView(gen uint64, have bool) (LoadChanges, []PendingGang, []PartialGang) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.takeLoads(gen, have)
	gangs, partial := c.pendingGangs()
	return ch, gangs, partial
}

// pendingGangs returns the new and the partly bound gangs (see
// Snapshot); c.mu is held.
func (c *Cache) pendingGangs() ([]PendingGang, []PartialGang) {
	// Without pending pods (a pre-placed create's pass): no gang maps.
	var groups map[GangID][]pendingPod
	var bound map[GangID][]placed
	var inFlight map[GangID]bool
	if len(c.pending) > 0 {
		groups, bound, inFlight = map[GangID][]pendingPod{}, map[GangID][]placed{}, map[GangID]bool{}
		for _, pp := range c.pending {
			groups[pp.job] = append(groups[pp.job], pp)
		}
	}
	if groups != nil {
		for _, p := range c.bound {
			if p.job != (GangID{}) && len(groups[p.job]) > 0 {
				bound[p.job] = append(bound[p.job], p)
			}
		}
		for _, a := range c.assumed {
			if a.job != (GangID{}) {
				inFlight[a.job] = true
			}
		}
	}

	var gangs []PendingGang
	var partial []PartialGang
	for id, members := range groups {
		if inFlight[id] {
			continue
		}
		sort.Slice(members, func(i, j int) bool { return members[i].meta.rank < members[j].meta.rank })
		if b := bound[id]; len(b) > 0 {
			if p, ok := c.partial(id, members, b); ok {
				partial = append(partial, p)
			}
			continue
		}
		size := members[0].meta.size
		if len(members) != size {
			continue // level 1 is still creating the group
		}
		ok := true
		for i, m := range members {
			if m.meta.rank != i || m.meta.size != size {
				ok = false
			}
		}
		if ok {
			gangs = append(gangs, pendingGang(id, members, size, nil))
		}
	}
	sort.Slice(gangs, func(i, j int) bool { return gangs[i].Gang.ID < gangs[j].Gang.ID })
	sort.Slice(partial, func(i, j int) bool { return partial[i].Rest.Gang.ID < partial[j].Rest.Gang.ID })
	return gangs, partial
}

// partial assembles a partly bound gang from its unbound members (rank
// order) and its bound ones; false when its head is bound.
func (c *Cache) partial(id GangID, members []pendingPod, bound []placed) (PartialGang, bool) {
	size := members[0].meta.size
	ranks := make([]int, size)
	ok := true
	var occupied []string
	var refs []PodRef
	for _, b := range bound {
		if b.ref.Rank == 0 {
			return PartialGang{}, false // its head may have run: not level 2's to touch
		}
		if b.ref.Rank < 0 || b.ref.Rank >= size {
			ok = false
		} else {
			ranks[b.ref.Rank]++
		}
		if _, exists := c.nodes[b.node]; !exists {
			ok = false // a bound pod's node is gone (or no longer ours)
		}
		occupied = append(occupied, b.node)
		refs = append(refs, b.ref)
	}
	for _, m := range members {
		if m.meta.size != size {
			ok = false
			continue
		}
		ranks[m.meta.rank]++
	}
	if slices.ContainsFunc(ranks, func(n int) bool { return n > 1 }) {
		ok = false // a rank twice
	}
	if ok && slices.Contains(ranks, 0) {
		if members[0].secret != (SecretRef{}) {
			// One of the agent's own gangs cut short while it was created
			// pre-placed: level 1 creates the missing ranks, then it is
			// completed. Not level 2's to touch meanwhile.
			return PartialGang{}, false
		}
		ok = false // another tool's gang with a rank gone
	}
	slices.Sort(occupied)
	sort.Slice(refs, func(i, j int) bool { return refs[i].Rank < refs[j].Rank })
	return PartialGang{Rest: pendingGang(id, members, size, occupied), Bound: refs, Completable: ok}, true
}

// pendingGang makes the gang of members (rank order), of a job of size
// pods, with occupied nodes already holding its other pods.
func pendingGang(id GangID, members []pendingPod, size int, occupied []string) PendingGang {
	g := PendingGang{ID: id, Gang: scheduler.Gang{
		ID: id.String(), Tenant: members[0].meta.tenant, Priority: members[0].meta.priority,
		Created: members[0].meta.created, OnePodPerNode: size > 1, Occupied: occupied,
	}}
	for _, m := range members {
		g.Gang.Pods = append(g.Gang.Pods, m.spec)
		g.Pods = append(g.Pods, m.ref)
		if g.Secret == (SecretRef{}) {
			g.Secret = m.secret
		}
	}
	return g
}
