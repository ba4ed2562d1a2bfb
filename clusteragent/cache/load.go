package cache

import "github.com/flotilla-hpc/flotilla/clusteragent/scheduler"

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
	k := loadKey{p.node, p.tenant}
	l := c.loads[k]
	if l == nil {
		l = &nodeLoad{}
		c.loads[k] = l
	}
	l.req.Add(podLoad(p)) // copies a map before writing: snapshots keep theirs
	l.pods++
}

// dropLoad uncounts a pod that was bound or assumed; c.mu is held.
func (c *Cache) dropLoad(p placed) {
	k := loadKey{p.node, p.tenant}
	l := c.loads[k]
	if l == nil {
		return
	}
	if l.pods--; l.pods <= 0 {
		delete(c.loads, k)
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
	for k, l := range c.loads {
		out = append(out, scheduler.Pod{Node: k.node, Requests: l.req, Tenant: k.tenant})
	}
	return out
}
