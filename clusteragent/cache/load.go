package cache

import (
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
)

// loadKey is a node and a tenant ("" for pods of other tools).
type loadKey struct{ node, tenant string }

// nodeLoad sums the requests of the pods of one tenant on one node, bound
// or assumed: the scheduler needs no more of them (free resources per node,
// the tenants on it), so a snapshot carries one entry per node and tenant,
// kept up to date as pods come and go, instead of one per pod.
type nodeLoad struct {
	req  scheduler.Resources // Pods counts each pod at least once
	pods int
}

// podLoad is what one pod adds to its node's load: its requests, counting
// as at least one pod (as the scheduler counts a pod).
func podLoad(p placed) scheduler.Resources {
	r := p.req
	if r.Pods < 1 {
		r.Pods = 1
	}
	return r
}

// addLoad counts a pod that became bound or assumed; c.mu is held.
func (c *Cache) addLoad(p placed) {
	byTenant := c.loads[p.node]
	if byTenant == nil {
		byTenant = map[string]*nodeLoad{}
		c.loads[p.node] = byTenant
	}
	l := byTenant[p.tenant]
	if l == nil {
		l = &nodeLoad{}
		byTenant[p.tenant] = l
	}
	l.req.Add(podLoad(p)) // copies a map before writing: snapshots keep theirs
	l.pods++
	c.loadDirty[p.node] = struct{}{}
}

// dropLoad uncounts a pod that was bound or assumed; c.mu is held.
func (c *Cache) dropLoad(p placed) {
	byTenant := c.loads[p.node]
	l := byTenant[p.tenant]
	if l == nil {
		return
	}
	c.loadDirty[p.node] = struct{}{}
	if l.pods--; l.pods <= 0 {
		delete(byTenant, p.tenant)
		if len(byTenant) == 0 {
			delete(c.loads, p.node)
		}
		return
	}
	r := podLoad(p)
	l.req.Sub(r)
	if len(r.Extended) == 0 {
		return
	}
	for name, v := range l.req.Extended {
		if v == 0 { // Sub copied the map: deleting from it is safe
			delete(l.req.Extended, name)
		}
	}
	if len(l.req.Extended) == 0 {
		l.req.Extended = nil
	}
}

// loadPods is the snapshot's pods: one per node and tenant with pods.
func (c *Cache) loadPods() []scheduler.Pod {
	out := make([]scheduler.Pod, 0, len(c.loads))
	for node := range c.loads {
		out = c.nodePods(out, node)
	}
	return out
}

// nodePods appends the pods of one node (one per tenant) to out; c.mu is
// held.
func (c *Cache) nodePods(out []scheduler.Pod, node string) []scheduler.Pod {
	for t, l := range c.loads[node] {
		out = append(out, scheduler.Pod{Node: node, Requests: l.req, Tenant: t})
	}
	return out
}

// LoadChanges is what a placement state kept between passes
// (scheduler.State) needs to catch up with the cache.
type LoadChanges struct {
	// Full: the nodes changed since Gen (or the caller has no state):
	// Nodes is the new node list (shared, never modified) and Loads holds
	// every node with pods. Otherwise Loads holds the nodes whose pods
	// changed since the last call, nil for a node left without pods.
	Full  bool
	Nodes []scheduler.Node
	Gen   uint64
	Loads map[string][]scheduler.Pod
}

// takeLoads returns the changes since the last call for a state built at
// node generation gen (have: the caller has one); c.mu is held. One
// consumer only: each call forgets the changes it returns.
func (c *Cache) takeLoads(gen uint64, have bool) LoadChanges {
	ch := LoadChanges{Gen: c.nodeGen, Loads: map[string][]scheduler.Pod{}}
	if !have || gen != c.nodeGen {
		ch.Full, ch.Nodes = true, c.sortedNodes()
		for node := range c.loads {
			ch.Loads[node] = c.nodePods(nil, node)
		}
	} else {
		for node := range c.loadDirty {
			ch.Loads[node] = c.nodePods(nil, node)
		}
	}
	clear(c.loadDirty)
	return ch
}
