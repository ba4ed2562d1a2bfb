package scheduler

import (
	"cmp"
	"slices"
)

// nodeClass is a weight class: the nodes with one weighted capacity.
type nodeClass struct {
	capacity float64
	nodes    []int32 // rank (name) order
}

// buildClasses groups nodes by weighted capacity, smallest class first.
func (c *cycle) buildClasses() {
	n := len(c.nodes)
	capOf := make([]float64, n)
	idx := make([]int32, n)
	R := c.l.dims
	for i := range n {
		capOf[i] = c.l.weigh(c.alloc[i*R : (i+1)*R])
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		if x := cmp.Compare(capOf[a], capOf[b]); x != 0 {
			return x
		}
		return cmp.Compare(a, b)
	})
	c.classOf = make([]int32, n)
	for start := 0; start < n; {
		end := start + 1
		for end < n && capOf[idx[end]] == capOf[idx[start]] {
			end++
		}
		cl := int32(len(c.classes))
		c.classes = append(c.classes, nodeClass{capacity: capOf[idx[start]], nodes: idx[start:end:end]})
		for _, v := range idx[start:end] {
			c.classOf[v] = cl
		}
		start = end
	}
}

// before reports whether node a ranks before node b when both have the
// given weighted free capacities: least free first, then name.
func before(wa float64, a int32, wb float64, b int32) bool {
	return wa < wb || (wa == wb && a < b)
}
