package scheduler

import (
	"slices"
	"time"
)

// State is a snapshot kept between scheduling passes: the nodes, and the
// pods on each node, changed a node at a time (SetLoads) instead of
// rebuilt. Its Schedule decides exactly what Schedule decides on the same
// snapshot (Snapshot), but a pass costs the nodes changed since the last
// one and the gangs, not the whole cluster: the per-node work of a cycle
// (node order, allocatable vectors, weight classes, free vectors sorted by
// weighted free capacity, the filters of each selector) is kept, and what
// a pass assumed is undone on the nodes it touched. A State holds no
// clock and does no I/O; it is not safe for concurrent use.
type State struct {
	nodes []Node
	opts  Options
	loads map[string][]Pod // node name → its pods
	// nodeExt are the extended resources the nodes declare; podExt counts
	// the loads naming each extended resource: together, the layout a
	// fresh cycle would use.
	nodeExt map[string]bool
	podExt  map[string]int
	dirty   map[string]struct{} // nodes whose pods changed since the last pass
	c       *cycle              // nil: built on the next pass
}

// NewState returns the state of a cluster of nodes without pods, for
// passes with opts.Weights. nodes is kept, not copied: the caller must not
// change it (a node change makes a new State).
func NewState(nodes []Node, opts Options) *State {
	s := &State{nodes: nodes, opts: opts, loads: map[string][]Pod{}, nodeExt: map[string]bool{},
		podExt: map[string]int{}, dirty: map[string]struct{}{}}
	for i := range nodes {
		for k := range nodes[i].Allocatable.Extended {
			s.nodeExt[k] = true
		}
	}
	return s
}

// SetLoads replaces the pods on one node (their Node fields are ignored).
// pods is kept, not copied: the caller must not change it.
func (s *State) SetLoads(node string, pods []Pod) {
	for _, p := range s.loads[node] {
		for k := range p.Requests.Extended {
			if s.podExt[k]--; s.podExt[k] <= 0 {
				delete(s.podExt, k)
			}
		}
	}
	for _, p := range pods {
		for k := range p.Requests.Extended {
			s.podExt[k]++
		}
	}
	if len(pods) == 0 {
		delete(s.loads, node)
	} else {
		s.loads[node] = pods
	}
	s.dirty[node] = struct{}{}
}

// Snapshot returns the cluster as a Snapshot (its pods in node order).
func (s *State) Snapshot() Snapshot {
	names := make([]string, 0, len(s.loads))
	for n := range s.loads {
		names = append(names, n)
	}
	slices.Sort(names)
	var pods []Pod
	for _, n := range names {
		for _, p := range s.loads[n] {
			p.Node = n
			pods = append(pods, p)
		}
	}
	return Snapshot{Nodes: s.nodes, Pods: pods}
}

// Schedule is Schedule(s.Snapshot(), pending, opts, now). opts may differ
// from the State's in everything but Weights (other weights: a one-off
// cycle).
func (s *State) Schedule(pending []Gang, opts Options, now time.Time) Result {
	if !sameWeights(opts.Weights, s.opts.Weights) {
		return Schedule(s.Snapshot(), pending, opts, now)
	}
	if s.c != nil && (!s.layoutCurrent() || s.c.stamp > 1<<30) {
		s.c = nil
	}
	if s.c == nil {
		snap := s.Snapshot()
		s.c = newCycle(&snap, nil, s.opts)
		clear(s.dirty)
	}
	c := s.c
	for name := range s.dirty {
		if n, ok := c.index[name]; ok {
			c.refresh(n, s.loads[name])
		}
	}
	clear(s.dirty)
	for i := range pending {
		for j := range pending[i].Pods {
			for k := range pending[i].Pods[j].Requests.Extended {
				if _, ok := c.l.ext[k]; !ok && !builtin(k) {
					// A resource no node declares: the layout of that
					// cycle differs, and such a gang is rare.
					return Schedule(s.Snapshot(), pending, opts, now)
				}
			}
		}
	}
	c.opts = opts
	res := c.run(pending, now)
	// Undo the pass: what it assumed, what it reserved.
	for _, b := range res.Bindings {
		for _, name := range b.Nodes {
			c.refresh(c.index[name], s.loads[name])
		}
	}
	for _, n := range c.reservedList {
		c.reserved[n] = false
		c.refresh(n, s.loads[c.nodes[n].Name])
	}
	c.reservedList, c.headID, c.memo = c.reservedList[:0], "", nil
	return res
}

// layoutCurrent reports whether the cycle's layout is the one a fresh
// cycle would build from the nodes and pods (before the gangs').
func (s *State) layoutCurrent() bool {
	want := 0
	for k := range s.nodeExt {
		if builtin(k) {
			continue
		}
		if _, ok := s.c.l.ext[k]; !ok {
			return false
		}
		want++
	}
	for k := range s.podExt {
		if builtin(k) || s.nodeExt[k] {
			continue
		}
		if _, ok := s.c.l.ext[k]; !ok {
			return false
		}
		want++
	}
	return want == len(s.c.l.ext)
}

// builtin reports whether a name in Resources.Extended is a built-in
// resource (ignored there).
func builtin(name string) bool {
	switch name {
	case ResourceCPU, ResourceMemory, ResourceGPU, ResourcePods, ResourceEphemeralStorage:
		return true
	}
	return false
}

// refresh recomputes node n of the current pool from its pods, as
// newCycle does: free resources, free of other schedulers' pods, tenant
// marker, place in its class order. A changed foreign vector drops the
// pool built from them.
func (c *cycle) refresh(n int32, pods []Pod) {
	R := c.l.dims
	lo, hi := int(n)*R, int(n+1)*R
	free := c.now.free[lo:hi]
	copy(free, c.alloc[lo:hi])
	c.vecBuf = slices.Grow(c.vecBuf[:0], 2*R)[:2*R]
	foreign, vec := c.vecBuf[:R], c.vecBuf[R:]
	copy(foreign, c.alloc[lo:hi])
	tenant := tenantNone
	for i := range pods {
		c.l.vector(pods[i].Requests, vec, true)
		sub(free, vec)
		if pods[i].Tenant == "" {
			sub(foreign, vec)
			continue
		}
		t := c.tenantID(pods[i].Tenant)
		if tenant == tenantNone {
			tenant = t
		} else if tenant != t {
			tenant = tenantMixed
		}
	}
	if !slices.Equal(foreign, c.foreign[lo:hi]) {
		copy(c.foreign[lo:hi], foreign)
		c.foreignPool = nil
	}
	c.now.tenant[n] = tenant
	c.now.reweigh(n)
}

// sameWeights reports whether two weight maps are equal.
func sameWeights(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
