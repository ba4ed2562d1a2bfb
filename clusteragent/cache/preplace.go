package cache

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
)

// NewGang makes the pending gang of pods not yet created (pre-placed
// creates): every rank of one job, in any order; their PodRefs carry no UID.
// The job Secret, if any, is sec.
func NewGang(pods []*corev1.Pod, sec SecretRef) (PendingGang, error) {
	if len(pods) == 0 {
		return PendingGang{}, fmt.Errorf("cache: an empty gang")
	}
	members := make([]pendingPod, len(pods))
	seen := make([]bool, len(pods))
	var id GangID
	for _, p := range pods {
		meta, ok := gangMetaOf(p)
		switch {
		case !ok:
			return PendingGang{}, fmt.Errorf("cache: pod %s/%s carries no gang fields", p.Namespace, p.Name)
		case meta.size != len(pods):
			return PendingGang{}, fmt.Errorf("cache: pod %s/%s: gang of %d, %d pods given", p.Namespace, p.Name, meta.size, len(pods))
		case seen[meta.rank]:
			return PendingGang{}, fmt.Errorf("cache: pod %s/%s: rank %d twice", p.Namespace, p.Name, meta.rank)
		case id != (GangID{}) && gangOf(p) != id:
			return PendingGang{}, fmt.Errorf("cache: pod %s/%s is of another gang than %s", p.Namespace, p.Name, id)
		}
		id = gangOf(p)
		seen[meta.rank] = true
		members[meta.rank] = pendingPod{ref: refOf(p, meta.rank), meta: meta, spec: podgroup.SchedulerPod(p), job: id, secret: sec}
	}
	return pendingGang(id, members, len(pods), nil), nil
}

// AssumeNew records the placement of a gang whose pods are being created
// with their nodes set (pods[i] on nodes[i]): they count on their nodes in
// every later snapshot until the informer shows them or ForgetNew drops
// them. It returns false, and assumes nothing, when a pod of the gang is
// known already (pending, assumed or bound): the gang exists, in part or
// whole, and is not created anew.
func (c *Cache) AssumeNew(g PendingGang, nodes []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ref := range g.Pods {
		key := ref.key()
		_, pending := c.pending[key]
		_, assumed := c.assumed[key]
		_, bound := c.bound[key]
		if pending || assumed || bound {
			return false
		}
	}
	for i, ref := range g.Pods {
		a := assumedPod{
			placed: placed{ref: ref, node: nodes[i], req: g.Gang.Pods[i].Requests, tenant: g.Gang.Tenant, job: g.ID},
			fresh:  true,
		}
		c.assumed[ref.key()] = a
		c.addLoad(a.placed)
	}
	return true
}

// ForgetNew drops the placements AssumeNew recorded for pods whose create
// failed or was rolled back; pods the informer already showed are left to
// it (their deletion removes them).
func (c *Cache) ForgetNew(pods []PodRef) {
	c.mu.Lock()
	for _, ref := range pods {
		if a, ok := c.assumed[ref.key()]; ok && a.fresh {
			delete(c.assumed, ref.key())
			c.dropLoad(a.placed)
		}
	}
	c.mu.Unlock()
	c.notify()
}

// LeaveNew drops the placements AssumeNew recorded for pods that were
// created but not all placed as assumed (a pre-placed create left to level
// 2 with its head unbound): each is taken again as the informer shows it,
// now or when it arrives, so an unbound head becomes pending for level 2
// instead of staying assumed on a node it was never bound to.
func (c *Cache) LeaveNew(pods []PodRef) {
	c.ForgetNew(pods)
	sp := c.podStore.Load()
	if sp == nil {
		return
	}
	for _, ref := range pods {
		if o, ok, err := (*sp).GetByKey(ref.key()); err == nil && ok {
			c.setPod(o)
		}
	}
	c.notify()
}
