// Package cache keeps the agent's view of its cluster, fed by informers on
// nodes and pods: the snapshot level 2 schedules against, the pending gangs,
// and bindings assumed before the API server confirms them (forgotten again
// when a bind fails).
package cache

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
)

// Options select what the cache watches.
type Options struct {
	// SchedulerName: pending pods naming it are ours to schedule.
	SchedulerName string
	// Namespaces whose pending pods are ours; empty means every namespace.
	Namespaces []string
	// NodeSelector limits the nodes this agent schedules onto (several agents
	// per cluster own distinct node sets); nil means all nodes.
	NodeSelector labels.Selector
}

// PodRef names a pod.
type PodRef struct{ Namespace, Name string }

func (r PodRef) key() string { return r.Namespace + "/" + r.Name }

// GangID names a gang: the namespace and the job number its pods carry
// (podgroup.LabelJob). The zero GangID names none.
type GangID struct {
	Namespace string
	Number    uint64
}

// String is the gang's id in the scheduler: "namespace/number".
func (g GangID) String() string { return g.Namespace + "/" + strconv.FormatUint(g.Number, 10) }

// PendingGang is a gang ready for level 2: every rank exists and is unbound.
type PendingGang struct {
	ID   GangID
	Gang scheduler.Gang // Gang.ID is ID.String()
	Pods []PodRef       // Pods[i] is the pod of Gang.Pods[i] (rank order)
}

type placed struct {
	node   string
	req    scheduler.Resources
	tenant string
	job    GangID // zero unless a Flotilla pod
}

// gangOf returns the gang of a Flotilla pod (zero for other pods).
func gangOf(p *corev1.Pod) GangID {
	n, err := strconv.ParseUint(p.Labels[podgroup.LabelJob], 10, 64)
	if err != nil {
		return GangID{}
	}
	return GangID{Namespace: p.Namespace, Number: n}
}

type pendingPod struct {
	ref  PodRef
	meta gangMeta
	spec scheduler.PodSpec
	job  GangID
}

// Cache is safe for concurrent use.
type Cache struct {
	opts   Options
	client kubernetes.Interface

	mu      sync.Mutex
	nodes   map[string]scheduler.Node
	bound   map[string]placed     // pod key → placement, as the API server says
	assumed map[string]placed     // pod key → placement we decided, not yet seen
	pending map[string]pendingPod // our unbound pods
	changed chan struct{}
	synced  atomic.Bool
}

// Synced reports whether the informers have delivered the whole cluster
// once: before that a snapshot under-counts nodes and pods.
func (c *Cache) Synced() bool { return c.synced.Load() }

// New returns a cache; Run starts it.
func New(client kubernetes.Interface, opts Options) *Cache {
	if opts.SchedulerName == "" {
		opts.SchedulerName = podgroup.SchedulerName
	}
	return &Cache{
		opts:    opts,
		client:  client,
		nodes:   map[string]scheduler.Node{},
		bound:   map[string]placed{},
		assumed: map[string]placed{},
		pending: map[string]pendingPod{},
		changed: make(chan struct{}, 1),
	}
}

// Run starts the informers and returns once they have synced.
func (c *Cache) Run(ctx context.Context) error {
	nodeFactory := informers.NewSharedInformerFactory(c.client, 0)
	nodeInf := nodeFactory.Core().V1().Nodes().Informer()
	podFactory := informers.NewSharedInformerFactoryWithOptions(c.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			// Finished pods hold no resources.
			o.FieldSelector = fields.AndSelectors(
				fields.OneTermNotEqualSelector("status.phase", string(corev1.PodSucceeded)),
				fields.OneTermNotEqualSelector("status.phase", string(corev1.PodFailed)),
			).String()
		}))
	podInf := podFactory.Core().V1().Pods().Informer()
	if _, err := nodeInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.setNode(o) },
		UpdateFunc: func(_, o any) { c.setNode(o) },
		DeleteFunc: func(o any) { c.deleteNode(o) },
	}); err != nil {
		return err
	}
	if _, err := podInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.setPod(o) },
		UpdateFunc: func(_, o any) { c.setPod(o) },
		DeleteFunc: func(o any) { c.deletePod(o) },
	}); err != nil {
		return err
	}
	nodeFactory.Start(ctx.Done())
	podFactory.Start(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), nodeInf.HasSynced, podInf.HasSynced) {
		return fmt.Errorf("cache: informers did not sync: %w", ctx.Err())
	}
	c.synced.Store(true)
	c.notify()
	return nil
}

// Changed delivers a signal after the cache changed; signals coalesce.
func (c *Cache) Changed() <-chan struct{} { return c.changed }

func (c *Cache) notify() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *Cache) ownsNode(n *corev1.Node) bool {
	return c.opts.NodeSelector == nil || c.opts.NodeSelector.Matches(labels.Set(n.Labels))
}

func (c *Cache) ownsNamespace(ns string) bool {
	return len(c.opts.Namespaces) == 0 || slices.Contains(c.opts.Namespaces, ns)
}

func (c *Cache) setNode(o any) {
	n, ok := o.(*corev1.Node)
	if !ok {
		return
	}
	c.mu.Lock()
	if c.ownsNode(n) {
		c.nodes[n.Name] = nodeOf(n)
	} else {
		delete(c.nodes, n.Name)
	}
	c.mu.Unlock()
	c.notify()
}

func (c *Cache) deleteNode(o any) {
	if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	n, ok := o.(*corev1.Node)
	if !ok {
		return
	}
	c.mu.Lock()
	delete(c.nodes, n.Name)
	c.mu.Unlock()
	c.notify()
}

func (c *Cache) setPod(o any) {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	key := p.Namespace + "/" + p.Name
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.Spec.NodeName != "" {
		delete(c.pending, key)
		delete(c.assumed, key)
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			delete(c.bound, key)
		} else if _, seen := c.bound[key]; !seen {
			c.bound[key] = placed{node: p.Spec.NodeName, req: podgroup.PodRequests(p), tenant: p.Annotations[podgroup.AnnotTenant], job: gangOf(p)}
			c.notify()
		}
		return
	}
	if p.Spec.SchedulerName != c.opts.SchedulerName || !c.ownsNamespace(p.Namespace) || p.DeletionTimestamp != nil {
		return
	}
	if _, isAssumed := c.assumed[key]; isAssumed {
		return
	}
	meta, ok := gangMetaOf(p)
	if !ok {
		return
	}
	if _, seen := c.pending[key]; !seen {
		c.pending[key] = pendingPod{ref: PodRef{p.Namespace, p.Name}, meta: meta, spec: podgroup.SchedulerPod(p), job: gangOf(p)}
		c.notify()
	}
}

func (c *Cache) deletePod(o any) {
	if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	p, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	key := p.Namespace + "/" + p.Name
	c.mu.Lock()
	delete(c.pending, key)
	delete(c.assumed, key)
	delete(c.bound, key)
	c.mu.Unlock()
	c.notify()
}

// Assume records bindings decided but not yet confirmed: the pods count on
// their nodes in every later snapshot and leave the pending set.
func (c *Cache) Assume(pods []PodRef, nodes []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, ref := range pods {
		key := ref.key()
		pp, ok := c.pending[key]
		if !ok {
			continue
		}
		delete(c.pending, key)
		c.assumed[key] = placed{node: nodes[i], req: pp.spec.Requests, tenant: pp.meta.tenant, job: pp.job}
	}
}

// Forget drops assumptions for pods whose binding failed; pods that still
// exist unbound return to pending on the next informer event or Resync.
func (c *Cache) Forget(pods []PodRef) {
	c.mu.Lock()
	for _, ref := range pods {
		delete(c.assumed, ref.key())
	}
	c.mu.Unlock()
	c.notify()
}

// Snapshot returns the cluster for level 2, the gangs ready to schedule, and
// broken gangs: jobs with some pods bound and others not (left by a crash or
// a failed bind), which the caller must tear down so they run whole or not at all.
func (c *Cache) Snapshot() (scheduler.Snapshot, []PendingGang, []GangID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	snap := scheduler.Snapshot{Nodes: make([]scheduler.Node, 0, len(c.nodes)), Pods: make([]scheduler.Pod, 0, len(c.bound)+len(c.assumed))}
	for _, n := range c.nodes {
		snap.Nodes = append(snap.Nodes, n)
	}
	sort.Slice(snap.Nodes, func(i, j int) bool { return snap.Nodes[i].Name < snap.Nodes[j].Name })
	boundJobs := map[GangID]bool{}
	for _, set := range []map[string]placed{c.bound, c.assumed} {
		for _, p := range set {
			snap.Pods = append(snap.Pods, scheduler.Pod{Node: p.node, Requests: p.req, Tenant: p.tenant})
			if p.job != (GangID{}) {
				boundJobs[p.job] = true
			}
		}
	}

	groups := map[GangID][]pendingPod{}
	for _, pp := range c.pending {
		gk := pp.job
		groups[gk] = append(groups[gk], pp)
	}
	var gangs []PendingGang
	var broken []GangID
	for gk, members := range groups {
		if boundJobs[gk] {
			broken = append(broken, gk)
			continue
		}
		size := members[0].meta.size
		if len(members) != size {
			continue // level 1 is still creating the group
		}
		sort.Slice(members, func(i, j int) bool { return members[i].meta.rank < members[j].meta.rank })
		ok := true
		for i, m := range members {
			if m.meta.rank != i || m.meta.size != size {
				ok = false
			}
		}
		if !ok {
			continue
		}
		g := PendingGang{ID: gk, Gang: scheduler.Gang{
			ID: gk.String(), Tenant: members[0].meta.tenant, Priority: members[0].meta.priority,
			Created: members[0].meta.created, OnePodPerNode: size > 1,
		}}
		for _, m := range members {
			g.Gang.Pods = append(g.Gang.Pods, m.spec)
			g.Pods = append(g.Pods, m.ref)
		}
		gangs = append(gangs, g)
	}
	sort.Slice(gangs, func(i, j int) bool { return gangs[i].Gang.ID < gangs[j].Gang.ID })
	sort.Slice(broken, func(i, j int) bool { return broken[i].String() < broken[j].String() })
	return snap, gangs, broken
}

// Counts reports sizes for status and tests.
func (c *Cache) Counts() (nodes, bound, assumed, pending int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.nodes), len(c.bound), len(c.assumed), len(c.pending)
}
