package scheduler

// Capacity answers, for gangs of identical pods like pod (one pod per node,
// as multi-node jobs run), the largest gang Schedule would bind now (free)
// and on the cluster without pods (total). It uses the same filter (node
// selector, taints, cordons), the same fit and the same rule that a gang
// lands in one weight class as Schedule, so a gang of n such pods binds
// now exactly when n ≤ free. Gangs are not tenant-isolated here; a pod
// with a negative request has no capacity.
func Capacity(snap Snapshot, pod PodSpec, opts Options) (free, total int) {
	g := Gang{ID: "capacity", Pods: []PodSpec{pod}}
	c := newCycle(&snap, []Gang{g}, opts)
	pl, bad := c.prepare(&g)
	if bad != "" {
		return 0, 0
	}
	empty := newPool(c, append([]int64(nil), c.alloc...), noTenants(len(c.nodes)))
	pr := &pl.pods[0]
	return c.largestGang(c.now, pr), c.largestGang(empty, pr)
}

// largestGang counts, per weight class, the nodes where pr passes the
// filter and fits in pool p, and returns the largest count: with one pod
// per node a gang of identical pods binds in a class exactly when it has
// that many such nodes.
func (c *cycle) largestGang(p *pool, pr *podReq) int {
	s := c.sigs[pr.sig]
	R := c.l.dims
	best := 0
	for _, cl := range c.classes {
		n := 0
		for _, node := range cl.nodes {
			if s.mask[node] <= verdictPrefer && fits(p.free[int(node)*R:], pr.req) {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}
