package scheduler

import (
	"cmp"
	"slices"
	"strconv"
	"time"
)

// Schedule runs one scheduling cycle: it places whole gangs from pending
// onto the cluster in snap and explains every gang it leaves pending. It
// reads its arguments and never modifies them; equal inputs, in any slice
// order, give equal results.
func Schedule(snap Snapshot, pending []Gang, opts Options, now time.Time) Result {
	c := newCycle(&snap, pending, opts)
	return c.run(pending, now)
}

// cycle is the working state of one Schedule call.
type cycle struct {
	opts    Options
	l       *layout
	nodes   []*Node // sorted by name; the index is the node's rank
	alloc   []int64 // allocatable vectors
	foreign []int64 // allocatable minus pods of other schedulers
	classes []nodeClass
	classOf []int32
	now     *pool // the cluster as it is, plus assumed gangs
	empty   *pool // the cluster without pods; built on first use
	// foreignPool is the cluster with only other schedulers' pods; built
	// on first use.
	foreignPool  *pool
	reserved     []bool // nodes reserved for the blocked queue head
	reservedList []int32
	headID       string // the blocked queue head, if any
	sigs         []*signature
	sigIndex     map[string]int32
	index        map[string]int32 // node name → rank
	tenants      map[string]int32
	stamp        int32
	pl           plan                  // reused for every gang
	groupPlan    plan                  // reused by reasons
	memo         map[string]pendingWhy // failed gang shapes, see run
	keyBuf       []byte
	vecBuf       []int64 // scratch of refresh (State)
}

// pendingWhy is a reason for a pending gang.
type pendingWhy struct {
	code   ReasonCode
	reason string
}

// plan is a gang prepared for placement.
type plan struct {
	g      *Gang
	tenant int32
	pods   []podReq
	order  []int32 // pod indices, largest weighted request first
	nodes  []int32 // chosen node per pod
	prev   []int32 // tenant marker before each assume, in order
	sigs   []sigUse
	soft   bool
	onePer bool
	// occupied are the ranks of the gang's Occupied nodes.
	occupied []int32
	arena    []int64
}

// sigUse counts a gang's pods per signature.
type sigUse struct {
	sig  int32
	pods int
}

func newCycle(snap *Snapshot, pending []Gang, opts Options) *cycle {
	c := &cycle{opts: opts, sigIndex: map[string]int32{}, tenants: map[string]int32{}}

	var ext []string
	collect := func(r *Resources) {
		for k := range r.Extended {
			ext = append(ext, k)
		}
	}
	for i := range snap.Nodes {
		collect(&snap.Nodes[i].Allocatable)
	}
	for i := range snap.Pods {
		collect(&snap.Pods[i].Requests)
	}
	for i := range pending {
		for j := range pending[i].Pods {
			collect(&pending[i].Pods[j].Requests)
		}
	}
	ext = slices.DeleteFunc(ext, func(name string) bool {
		switch name {
		case ResourceCPU, ResourceMemory, ResourceGPU, ResourcePods, ResourceEphemeralStorage:
			return true // a built-in name in Extended is ignored
		}
		return false
	})
	c.l = newLayout(ext, opts.Weights)

	// Nodes in name order; a name seen twice is ambiguous and dropped.
	nodes := make([]*Node, 0, len(snap.Nodes))
	for i := range snap.Nodes {
		nodes = append(nodes, &snap.Nodes[i])
	}
	slices.SortFunc(nodes, func(a, b *Node) int { return cmp.Compare(a.Name, b.Name) })
	c.nodes = nodes[:0]
	for i := 0; i < len(nodes); {
		j := i + 1
		for j < len(nodes) && nodes[j].Name == nodes[i].Name {
			j++
		}
		if j == i+1 {
			c.nodes = append(c.nodes, nodes[i])
		}
		i = j
	}

	N, R := len(c.nodes), c.l.dims
	c.alloc = make([]int64, N*R)
	index := make(map[string]int32, N)
	for n, node := range c.nodes {
		v := c.alloc[n*R : (n+1)*R]
		c.l.vector(node.Allocatable, v, false)
		if v[dimPods] == 0 {
			v[dimPods] = noPodLimit
		}
		index[node.Name] = int32(n)
	}
	c.index = index
	c.buildClasses()

	free := slices.Clone(c.alloc)
	c.foreign = slices.Clone(c.alloc)
	tenant := noTenants(N)
	vec := make([]int64, R)
	for i := range snap.Pods {
		pod := &snap.Pods[i]
		n, ok := index[pod.Node]
		if !ok {
			continue
		}
		c.l.vector(pod.Requests, vec, true)
		sub(free[int(n)*R:], vec)
		if pod.Tenant == "" {
			sub(c.foreign[int(n)*R:], vec)
			continue
		}
		t := c.tenantID(pod.Tenant)
		if prev := tenant[n]; prev == tenantNone {
			tenant[n] = t
		} else if prev != t {
			tenant[n] = tenantMixed
		}
	}
	c.now = newPool(c, free, tenant)
	c.reserved = make([]bool, N)
	return c
}

func (c *cycle) tenantID(name string) int32 {
	if name == "" {
		return tenantNone
	}
	t, ok := c.tenants[name]
	if !ok {
		t = int32(len(c.tenants))
		c.tenants[name] = t
	}
	return t
}

// queueOrder sorts gangs by priority descending, creation ascending, id.
func queueOrder(a, b *Gang) int {
	if a.Priority != b.Priority {
		return cmp.Compare(b.Priority, a.Priority)
	}
	if x := a.Created.Compare(b.Created); x != 0 {
		return x
	}
	return cmp.Compare(a.ID, b.ID)
}

func (c *cycle) run(pending []Gang, now time.Time) Result {
	queue := make([]*Gang, len(pending))
	ids := make(map[string]int, len(pending))
	for i := range pending {
		queue[i] = &pending[i]
		ids[pending[i].ID]++
	}
	slices.SortFunc(queue, queueOrder)

	var res Result
	var head *Gang
	bound := 0
	for _, g := range queue {
		pend := func(code ReasonCode, reason string) {
			res.Pending = append(res.Pending, Pending{
				GangID: g.ID, Code: code, Reason: reason, Waiting: max(now.Sub(g.Created), 0),
			})
		}
		switch {
		case g.ID == "":
			pend(ReasonInvalid, "invalid: the gang has no id")
			continue
		case ids[g.ID] > 1:
			pend(ReasonInvalid, "invalid: "+strconv.Itoa(ids[g.ID])+" pending gangs share this id")
			continue
		case len(g.Pods) == 0:
			pend(ReasonInvalid, "invalid: the gang has no pods")
			continue
		case c.opts.MaxGangsPerCycle > 0 && bound >= c.opts.MaxGangsPerCycle:
			pend(ReasonCycleLimit, "cycle limit of "+strconv.Itoa(c.opts.MaxGangsPerCycle)+" gangs reached; considered next cycle")
			continue
		}
		pl, bad := c.prepare(g)
		if bad != "" {
			pend(ReasonInvalid, "invalid: "+bad)
			continue
		}
		if head != nil && !c.opts.Backfill {
			if c.fitsBeside(pl) {
				pend(ReasonWaiting, waitingText(g, head))
			} else {
				why := c.diagnose(pl, c.fitsEmpty(pl), false)
				pend(why.code, why.reason)
			}
			continue
		}
		// Within a cycle free resources only shrink (assumptions, the
		// reservation, tenants spreading), so a gang shape that failed
		// fails again: answer it from the memo.
		key := ""
		if len(c.memo) > 0 {
			key = c.memoKey(pl)
			if why, ok := c.memo[key]; ok {
				pend(why.code, why.reason)
				continue
			}
		}
		if c.place(c.now, pl, true) {
			b := Binding{GangID: g.ID, Nodes: make([]string, len(pl.nodes))}
			for i, n := range pl.nodes {
				b.Nodes[i] = c.nodes[n].Name
			}
			res.Bindings = append(res.Bindings, b)
			bound++
			continue
		}
		// Only a gang that would fit once our own pods end can hold up the
		// queue; other schedulers' pods may never end.
		blocks := c.fitsBeside(pl)
		why := c.diagnose(pl, blocks || c.fitsEmpty(pl), blocks)
		if key == "" {
			key = c.memoKey(pl)
		}
		if c.memo == nil {
			c.memo = make(map[string]pendingWhy)
		}
		c.memo[key] = why
		pend(why.code, why.reason)
		if blocks && head == nil {
			head = g
			c.headID = g.ID
			if c.opts.Backfill {
				c.reserve(pl)
			}
		}
	}
	return res
}

// prepare turns g into c.pl; it returns a non-empty text when g is invalid.
func (c *cycle) prepare(g *Gang) (*plan, string) {
	pl := &c.pl
	P, R := len(g.Pods), c.l.dims
	pl.g = g
	pl.onePer = g.OnePodPerNode
	pl.tenant = c.tenantID(g.Tenant)
	pl.arena = slices.Grow(pl.arena[:0], P*R)[:P*R]
	pl.pods = slices.Grow(pl.pods[:0], P)[:P]
	pl.order = slices.Grow(pl.order[:0], P)[:P]
	pl.nodes = slices.Grow(pl.nodes[:0], P)[:P]
	pl.prev = slices.Grow(pl.prev[:0], P)[:P]
	pl.sigs = pl.sigs[:0]
	pl.soft = false
	pl.occupied = pl.occupied[:0]
	for _, name := range g.Occupied {
		if n, ok := c.index[name]; ok {
			pl.occupied = append(pl.occupied, n)
		}
	}
	for i := range g.Pods {
		sp := &g.Pods[i]
		req := pl.arena[i*R : (i+1)*R : (i+1)*R]
		if neg := c.l.vector(sp.Requests, req, true); neg != "" {
			return pl, "pod " + strconv.Itoa(i) + " requests a negative amount of " + neg
		}
		sig := c.signature(sp)
		pl.pods[i] = podReq{req: req, w: c.l.weigh(req), sig: sig}
		pl.order[i] = int32(i)
		if k := slices.IndexFunc(pl.sigs, func(u sigUse) bool { return u.sig == sig }); k >= 0 {
			pl.sigs[k].pods++
		} else {
			pl.sigs = append(pl.sigs, sigUse{sig: sig, pods: 1})
			pl.soft = pl.soft || c.sigs[sig].soft
		}
	}
	if P > 1 {
		slices.SortStableFunc(pl.order, func(a, b int32) int {
			return cmp.Compare(pl.pods[b].w, pl.pods[a].w)
		})
	}
	return pl, ""
}

// place tries to place every pod of pl in one class of pool p, trying the
// classes from the smallest. With keep the placement stays assumed, else it
// is undone. Nodes whose untolerated taints are only PreferNoSchedule are
// tried only after the gang fits nowhere else.
func (c *cycle) place(p *pool, pl *plan, keep bool) bool {
	a := attempt{isolate: tenantNone, onePer: pl.onePer}
	if keep && c.opts.TenantIsolation {
		a.isolate = pl.tenant
	}
	for v := verdictOK; v <= verdictPrefer; v++ {
		if v == verdictPrefer && !pl.soft {
			break
		}
		a.maxV = v
		for ci := range c.classes {
			if !c.classMayFit(pl, ci, v) {
				continue
			}
			c.stamp++
			a.stamp = c.stamp
			for _, n := range pl.occupied {
				p.stamp[n] = a.stamp
			}
			if c.tryClass(p, pl, ci, &a) {
				if !keep {
					c.rollback(p, pl, len(pl.order))
				}
				return true
			}
		}
	}
	return false
}

// classMayFit is a cheap necessary condition for pl to fit in class ci.
func (c *cycle) classMayFit(pl *plan, ci int, v verdict) bool {
	total := 0
	for _, u := range pl.sigs {
		s := c.sigs[u.sig]
		k := s.strict[ci]
		if v >= verdictPrefer {
			k = s.usable[ci]
		}
		if k == 0 || (pl.onePer && k < u.pods) {
			return false
		}
		total += k
	}
	return !pl.onePer || total >= len(pl.order)
}

// tryClass places the pods of pl one by one in class ci, largest first,
// each on its tightest feasible node; on failure it undoes what it did.
func (c *cycle) tryClass(p *pool, pl *plan, ci int, a *attempt) bool {
	for k, pi := range pl.order {
		pr := &pl.pods[pi]
		n := p.pick(ci, pr, a)
		if n < 0 {
			c.rollback(p, pl, k)
			return false
		}
		pl.prev[k] = p.assume(n, pr, pl.tenant)
		p.stamp[n] = a.stamp
		pl.nodes[pi] = n
	}
	return true
}

// rollback releases the first k pods of pl's order, last first.
func (c *cycle) rollback(p *pool, pl *plan, k int) {
	for j := k - 1; j >= 0; j-- {
		pi := pl.order[j]
		p.release(pl.nodes[pi], &pl.pods[pi], pl.prev[j])
	}
}

// fitsEmpty reports whether pl would fit on the cluster without pods.
func (c *cycle) fitsEmpty(pl *plan) bool {
	if c.empty == nil {
		c.empty = newPool(c, slices.Clone(c.alloc), noTenants(len(c.nodes)))
	}
	return c.place(c.empty, pl, false)
}

// fitsBeside reports whether pl would fit beside other schedulers' pods,
// that is once all of our pods have ended.
func (c *cycle) fitsBeside(pl *plan) bool {
	return c.place(c.besidePool(), pl, false)
}

// besidePool is the cluster with only other schedulers' pods.
func (c *cycle) besidePool() *pool {
	if c.foreignPool == nil {
		c.foreignPool = newPool(c, slices.Clone(c.foreign), noTenants(len(c.nodes)))
	}
	return c.foreignPool
}

// memoKey identifies a gang's shape: what decides whether it fits.
func (c *cycle) memoKey(pl *plan) string {
	b := c.keyBuf[:0]
	if c.opts.TenantIsolation {
		b = strconv.AppendInt(b, int64(pl.tenant), 10)
	}
	if pl.onePer {
		b = append(b, '1')
		for _, n := range pl.occupied {
			b = append(b, 'o')
			b = strconv.AppendInt(b, int64(n), 10)
		}
	}
	for i := range pl.pods {
		pr := &pl.pods[i]
		b = append(b, '|')
		b = strconv.AppendInt(b, int64(pr.sig), 10)
		for _, q := range pr.req {
			b = append(b, ',')
			b = strconv.AppendInt(b, q, 10)
		}
	}
	c.keyBuf = b
	return string(b)
}

func waitingText(g, head *Gang) string {
	if head.Priority > g.Priority {
		return "waiting behind higher-priority job " + head.ID
	}
	return "waiting behind job " + head.ID + ", ahead in the queue"
}
