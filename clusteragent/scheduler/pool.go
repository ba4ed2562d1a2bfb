package scheduler

import (
	"cmp"
	"slices"
)

// Tenant markers of a node in a pool.
const (
	tenantNone  int32 = -1 // no pod of a known tenant
	tenantMixed int32 = -2 // pods of several tenants (isolation was off)
)

// pool is a mutable view of per-node free resources: the cluster now, or
// the empty cluster. Every class keeps its nodes sorted by weighted free
// capacity, least first, then by name.
type pool struct {
	c      *cycle
	free   []int64   // node n's free vector is free[n*dims : (n+1)*dims]
	wfree  []float64 // weighted free capacity; -Inf for reserved nodes
	tenant []int32   // tenantNone, tenantMixed or a tenant id
	stamp  []int32   // attempt stamp of the last pod assumed on the node
	order  [][]int32 // per class
	pos    []int32   // node's index in its class order
}

// newPool takes ownership of free and tenant.
func newPool(c *cycle, free []int64, tenant []int32) *pool {
	n, R := len(c.nodes), c.l.dims
	p := &pool{
		c:      c,
		free:   free,
		wfree:  make([]float64, n),
		tenant: tenant,
		stamp:  make([]int32, n),
		order:  make([][]int32, len(c.classes)),
		pos:    make([]int32, n),
	}
	for i := range n {
		p.wfree[i] = c.l.weigh(free[i*R : (i+1)*R])
	}
	for ci, cl := range c.classes {
		ord := slices.Clone(cl.nodes)
		slices.SortFunc(ord, func(a, b int32) int {
			if x := cmp.Compare(p.wfree[a], p.wfree[b]); x != 0 {
				return x
			}
			return cmp.Compare(a, b)
		})
		for i, v := range ord {
			p.pos[v] = int32(i)
		}
		p.order[ci] = ord
	}
	return p
}

// podReq is one pod of a gang in vector form.
type podReq struct {
	req []int64
	w   float64 // weighted request
	sig int32
}

// attempt is what a placement of one gang in one class checks besides
// resources.
type attempt struct {
	isolate int32   // tenant that must not meet others, or tenantNone
	stamp   int32   // marks nodes taken by this attempt
	onePer  bool    // one pod per node
	maxV    verdict // highest usable verdict
}

// pick returns the node of class ci for pod pr with the least weighted free
// capacity (then the smallest rank) among feasible nodes, or -1.
func (p *pool) pick(ci int, pr *podReq, a *attempt) int32 {
	s := p.c.sigs[pr.sig]
	if list := s.sparse[ci]; list != nil {
		best, bw := int32(-1), 0.0
		for _, n := range list {
			w := p.wfree[n]
			if w < pr.w || s.mask[n] > a.maxV || !p.feasible(n, pr, a) {
				continue
			}
			if best < 0 || before(w, n, bw, best) {
				best, bw = n, w
			}
		}
		return best
	}
	// A node whose weighted free capacity is below the request's weight
	// cannot fit it (weigh is monotone), so start at the first one that
	// is not; the first feasible node from there is the tightest fit.
	for _, n := range p.order[ci][p.firstAtLeast(ci, pr.w):] {
		if s.mask[n] <= a.maxV && p.feasible(n, pr, a) {
			return n
		}
	}
	return -1
}

// firstAtLeast returns the index of the first node in class ci's order
// whose weighted free capacity is at least w.
func (p *pool) firstAtLeast(ci int, w float64) int {
	ord := p.order[ci]
	lo, hi := 0, len(ord)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if p.wfree[ord[m]] < w {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// noTenants returns n tenant markers saying "no known tenant".
func noTenants(n int) []int32 {
	t := make([]int32, n)
	for i := range t {
		t[i] = tenantNone
	}
	return t
}

// feasible checks the dynamic conditions for pod pr on node n.
func (p *pool) feasible(n int32, pr *podReq, a *attempt) bool {
	if a.onePer && p.stamp[n] == a.stamp {
		return false
	}
	if a.isolate >= 0 {
		if t := p.tenant[n]; t != tenantNone && t != a.isolate {
			return false
		}
	}
	R := len(pr.req)
	return fits(p.free[int(n)*R:], pr.req)
}

// assume takes pr's resources on node n for tenant t and returns the
// node's previous tenant marker, for release.
func (p *pool) assume(n int32, pr *podReq, t int32) int32 {
	R := len(pr.req)
	sub(p.free[int(n)*R:], pr.req)
	prev := p.tenant[n]
	if t >= 0 && prev != t {
		if prev == tenantNone {
			p.tenant[n] = t
		} else {
			p.tenant[n] = tenantMixed
		}
	}
	p.reweigh(n)
	return prev
}

// release undoes assume.
func (p *pool) release(n int32, pr *podReq, prev int32) {
	R := len(pr.req)
	add(p.free[int(n)*R:], pr.req)
	p.tenant[n] = prev
	p.reweigh(n)
}

func (p *pool) reweigh(n int32) {
	R := p.c.l.dims
	p.setWeight(n, p.c.l.weigh(p.free[int(n)*R:int(n+1)*R]))
}

// setWeight sets node n's weighted free capacity and moves it to its place
// in the class order.
func (p *pool) setWeight(n int32, w float64) {
	p.wfree[n] = w
	ord := p.order[p.c.classOf[n]]
	i := int(p.pos[n])
	for i > 0 && before(w, n, p.wfree[ord[i-1]], ord[i-1]) {
		ord[i] = ord[i-1]
		p.pos[ord[i]] = int32(i)
		i--
	}
	for i+1 < len(ord) && before(p.wfree[ord[i+1]], ord[i+1], w, n) {
		ord[i] = ord[i+1]
		p.pos[ord[i]] = int32(i)
		i++
	}
	ord[i] = n
	p.pos[n] = int32(i)
}
