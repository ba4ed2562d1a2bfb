package scheduler

import (
	"cmp"
	"math"
	"slices"
)

// reserve sets aside nodes for the blocked queue head pl, so that gangs
// placed by backfill never take what the head is waiting for.
//
// The head is placed against allocatable minus the pods of other
// schedulers (their end is unknown; our pods end with their jobs), class
// by class from the smallest, like any gang. Within a class it prefers the
// nodes with the most weighted free capacity now, then the name, so it
// waits for as few running pods as possible. Reserved nodes leave the
// current pool: their weighted free capacity becomes -Inf, below every
// request, so no scan ever stops at them. If the head fits nowhere even
// then, nothing is reserved.
func (c *cycle) reserve(pl *plan) {
	R := c.l.dims
	free := slices.Clone(c.foreign)
	mark := make([]bool, len(c.nodes))
	chosen := make([]int32, len(pl.pods))
	for v := verdictOK; v <= verdictPrefer; v++ {
		if v == verdictPrefer && !pl.soft {
			break
		}
		for ci := range c.classes {
			if !c.classMayFit(pl, ci, v) {
				continue
			}
			cand := slices.Clone(c.classes[ci].nodes)
			slices.SortFunc(cand, func(a, b int32) int {
				if x := cmp.Compare(c.now.wfree[b], c.now.wfree[a]); x != 0 {
					return x
				}
				return cmp.Compare(a, b)
			})
			if c.reserveIn(pl, cand, free, mark, chosen, v) {
				for _, n := range chosen {
					if !c.reserved[n] {
						c.reserved[n] = true
						c.reservedList = append(c.reservedList, n)
						c.now.setWeight(n, math.Inf(-1))
					}
				}
				return
			}
			for _, n := range cand { // undo this class
				copy(free[int(n)*R:int(n+1)*R], c.foreign[int(n)*R:int(n+1)*R])
				mark[n] = false
			}
		}
	}
}

// reserveIn places pl's pods on the candidates in order, first fit, and
// reports whether all of them found a node.
func (c *cycle) reserveIn(pl *plan, cand []int32, free []int64, mark []bool, chosen []int32, maxV verdict) bool {
	R := c.l.dims
	start := 0 // with one pod per node, candidates before start are marked
	for _, pi := range pl.order {
		pr := &pl.pods[pi]
		s := c.sigs[pr.sig]
		found := int32(-1)
		for i := start; i < len(cand); i++ {
			n := cand[i]
			if s.mask[n] > maxV || (pl.onePer && mark[n]) || !fits(free[int(n)*R:], pr.req) {
				continue
			}
			found = n
			break
		}
		if found < 0 {
			return false
		}
		sub(free[int(found)*R:], pr.req)
		mark[found] = true
		chosen[pi] = found
		for pl.onePer && start < len(cand) && mark[cand[start]] {
			start++
		}
	}
	return true
}
