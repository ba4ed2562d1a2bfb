// Package cache keeps the agent's view of its cluster, fed by informers on
// nodes and pods: the snapshot level 2 schedules against, the pending gangs,
// and bindings assumed before the API server confirms them (forgotten again
// when a bind fails).
package cache

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
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
	// Namespaces whose pending pods are ours, besides those named like a
	// tenant namespace of NamespacePrefix (podgroup.IsTenantNamespace);
	// both empty means every namespace.
	Namespaces      []string
	NamespacePrefix string
	// NodeSelector limits the nodes this agent schedules onto (several agents
	// per cluster own distinct node sets); nil means all nodes.
	NodeSelector labels.Selector
	// Informers, if set, is the agent's shared informer factory: the
	// cache takes its node and pod informers from it (every pod, finished
	// ones too, which it ignores) and Run starts it. Nil: the cache makes
	// its own, whose pod watch leaves finished pods out.
	Informers informers.SharedInformerFactory
}

// PodRef names a pod as the cache last saw it: its UID and resource
// version are the preconditions of the binder's writes, Rank its place in
// its gang (0 is the head).
type PodRef struct {
	Namespace, Name string
	UID             types.UID
	ResourceVersion string
	Rank            int
}

func (r PodRef) key() string { return r.Namespace + "/" + r.Name }

func refOf(p *corev1.Pod, rank int) PodRef {
	return PodRef{Namespace: p.Namespace, Name: p.Name, UID: p.UID, ResourceVersion: p.ResourceVersion, Rank: rank}
}

// SecretRef names the job Secret that owns a gang's pods (zero for gangs
// of other tools, which have none).
type SecretRef struct {
	Name string
	UID  types.UID
}

// ownerSecret returns the Secret named as the pod's owner.
func ownerSecret(p *corev1.Pod) SecretRef {
	for _, ref := range p.OwnerReferences {
		if ref.Kind == "Secret" && ref.APIVersion == "v1" {
			return SecretRef{Name: ref.Name, UID: ref.UID}
		}
	}
	return SecretRef{}
}

// GangID names a gang: the namespace and the job number its pods carry
// (podgroup.LabelJob). The zero GangID names none.
type GangID struct {
	Namespace string
	Number    uint64
}

// String is the gang's id in the scheduler: "namespace/number".
func (g GangID) String() string { return g.Namespace + "/" + strconv.FormatUint(g.Number, 10) }

// PendingGang is a gang for level 2: pods to bind as a whole. Of a new
// gang every rank exists and is unbound; of a partly bound one (see
// PartialGang) these are the unbound rest.
type PendingGang struct {
	ID     GangID
	Secret SecretRef
	Gang   scheduler.Gang // Gang.ID is ID.String()
	Pods   []PodRef       // Pods[i] is the pod of Gang.Pods[i] (rank order)
}

// PartialGang is a gang with some pods bound and its head (rank 0)
// unbound, left by a crash or a failed bind: its head never ran, so level 2
// may complete it (bind Rest, whose Gang.Occupied are the nodes of Bound)
// or tear it down. Completable is false when that cannot work: a rank is
// missing, or a bound pod's node is gone.
type PartialGang struct {
	Rest        PendingGang
	Bound       []PodRef
	Completable bool
}

type placed struct {
	ref    PodRef
	node   string
	req    scheduler.Resources
	tenant string
	job    GangID // zero unless a Flotilla pod
}

// assumedPod is a pod whose binding level 2 decided and the API server has
// not yet shown.
type assumedPod struct {
	placed
	pending pendingPod // what it was, for Forget
	// fresh marks a pod being created with its node set (AssumeNew): it
	// was never pending, so Forget does not make it pending.
	fresh bool
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
	ref    PodRef
	meta   gangMeta
	spec   scheduler.PodSpec
	job    GangID
	secret SecretRef
}

// Cache is safe for concurrent use.
type Cache struct {
	opts   Options
	client kubernetes.Interface

	mu       sync.Mutex
	nodes    map[string]scheduler.Node       // the nodes this agent schedules onto
	nodeList []scheduler.Node                // nodes by name; nil after a change
	nodeGen  uint64                          // counts changes of nodes (see Nodes)
	allNodes map[string]bool                 // every node of the cluster
	bound    map[string]placed               // pod key → placement, as the API server says
	assumed  map[string]assumedPod           // pod key → placement we decided, not yet seen
	pending  map[string]pendingPod           // our unbound pods
	loads    map[string]map[string]*nodeLoad // bound and assumed pods summed per node and tenant
	// loadDirty are the nodes whose loads changed since takeLoads.
	loadDirty map[string]struct{}
	changed   chan struct{}
	synced    atomic.Bool
	// podStore is the pod informer's store (nil before Run).
	podStore atomic.Pointer[toolscache.Store]
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
		opts:      opts,
		client:    client,
		nodes:     map[string]scheduler.Node{},
		allNodes:  map[string]bool{},
		bound:     map[string]placed{},
		assumed:   map[string]assumedPod{},
		pending:   map[string]pendingPod{},
		loads:     map[string]map[string]*nodeLoad{},
		loadDirty: map[string]struct{}{},
		changed:   make(chan struct{}, 1),
	}
}

// Run starts the informers and returns once they have synced.
func (c *Cache) Run(ctx context.Context) error {
	f := c.opts.Informers
	if f == nil {
		f = informers.NewSharedInformerFactory(c.client, 0)
	}
	nodeInf := f.Core().V1().Nodes().Informer()
	podFactory := f
	if c.opts.Informers == nil {
		podFactory = informers.NewSharedInformerFactoryWithOptions(c.client, 0,
			informers.WithTweakListOptions(func(o *metav1.ListOptions) {
				// Finished pods hold no resources.
				o.FieldSelector = fields.AndSelectors(
					fields.OneTermNotEqualSelector("status.phase", string(corev1.PodSucceeded)),
					fields.OneTermNotEqualSelector("status.phase", string(corev1.PodFailed)),
				).String()
			}))
	}
	podInf := podFactory.Core().V1().Pods().Informer()
	store := podInf.GetStore()
	c.podStore.Store(&store)
	nodeReg, err := nodeInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.setNode(o) },
		UpdateFunc: func(_, o any) { c.setNode(o) },
		DeleteFunc: func(o any) { c.deleteNode(o) },
	})
	if err != nil {
		return err
	}
	podReg, err := podInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.setPod(o) },
		UpdateFunc: func(_, o any) { c.setPod(o) },
		DeleteFunc: func(o any) { c.deletePod(o) },
	})
	if err != nil {
		return err
	}
	f.Start(ctx.Done())
	podFactory.Start(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), nodeReg.HasSynced, podReg.HasSynced) {
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
	if len(c.opts.Namespaces) == 0 && c.opts.NamespacePrefix == "" {
		return true
	}
	return slices.Contains(c.opts.Namespaces, ns) || podgroup.IsTenantNamespace(c.opts.NamespacePrefix, ns)
}

func (c *Cache) setNode(o any) {
	n, ok := o.(*corev1.Node)
	if !ok {
		return
	}
	c.mu.Lock()
	c.allNodes[n.Name] = true
	changed := false
	if c.ownsNode(n) {
		v := nodeOf(n)
		if old, ok := c.nodes[n.Name]; !ok || !sameNode(old, v) {
			c.nodes[n.Name], changed = v, true
		}
	} else if _, ok := c.nodes[n.Name]; ok {
		delete(c.nodes, n.Name)
		changed = true
	}
	if changed {
		c.nodeList = nil
		c.nodeGen++
	}
	c.mu.Unlock()
	if changed { // a heartbeat changes nothing level 2 sees
		c.notify()
	}
}

// sameNode reports whether two views of a node are equal for level 2.
func sameNode(a, b scheduler.Node) bool {
	return a.Unschedulable == b.Unschedulable && reflect.DeepEqual(a.Allocatable, b.Allocatable) &&
		maps.Equal(a.Labels, b.Labels) && slices.Equal(a.Taints, b.Taints)
}

// sortedNodes returns the nodes by name, rebuilt only after a node
// changed (into a new slice: one handed out is never modified); c.mu is
// held.
func (c *Cache) sortedNodes() []scheduler.Node {
	if c.nodeList == nil {
		c.nodeList = make([]scheduler.Node, 0, len(c.nodes))
		for _, n := range c.nodes {
			c.nodeList = append(c.nodeList, n)
		}
		sort.Slice(c.nodeList, func(i, j int) bool { return c.nodeList[i].Name < c.nodeList[j].Name })
	}
	return c.nodeList
}

// Nodes returns the nodes this agent schedules onto, by name (shared:
// callers must not change them), and a generation that changes whenever
// one of them changes as level 2 sees it (added, removed, allocatable,
// labels, taints, cordon); ok is false before the informers synced. It
// costs no API call.
func (c *Cache) Nodes() (nodes []scheduler.Node, gen uint64, ok bool) {
	if !c.Synced() {
		return nil, 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sortedNodes(), c.nodeGen, true
}

// NodeExists reports whether the cluster has a node of that name (owned by
// this agent or not), as far as the informer has seen.
func (c *Cache) NodeExists(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.allNodes[name]
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
	delete(c.allNodes, n.Name)
	c.nodeList = nil
	c.nodeGen++
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
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		// A finished pod holds no resources: gone, for level 2 (a shared
		// informer shows it; the cache's own leaves it out, deleted).
		if c.drop(key) {
			c.notify()
		}
		return
	}
	if p.Spec.NodeName != "" {
		a, wasAssumed := c.assumed[key]
		delete(c.pending, key)
		if wasAssumed {
			delete(c.assumed, key)
			c.dropLoad(a.placed)
		}
		if _, seen := c.bound[key]; !seen {
			rank, _ := strconv.Atoi(p.Labels[podgroup.LabelRank])
			b := placed{ref: refOf(p, rank), node: p.Spec.NodeName, req: podgroup.PodRequests(p),
				tenant: p.Annotations[podgroup.AnnotTenant], job: gangOf(p)}
			c.bound[key] = b
			c.addLoad(b)
			// A pod seen where it was assumed (a bind or a pre-placed
			// create confirmed) changes nothing a cycle sees: no wake-up.
			if !wasAssumed || a.node != p.Spec.NodeName || a.ref.UID != "" && a.ref.UID != p.UID {
				c.notify()
			}
		}
		return
	}
	if p.Spec.SchedulerName != c.opts.SchedulerName || !c.ownsNamespace(p.Namespace) {
		return
	}
	if p.DeletionTimestamp != nil {
		if _, ok := c.pending[key]; ok {
			delete(c.pending, key)
			c.notify()
		}
		return
	}
	if _, isAssumed := c.assumed[key]; isAssumed {
		return
	}
	meta, ok := gangMetaOf(p)
	if !ok {
		return
	}
	if old, seen := c.pending[key]; !seen || old.ref.UID != p.UID {
		c.pending[key] = pendingPod{ref: refOf(p, meta.rank), meta: meta, spec: podgroup.SchedulerPod(p), job: gangOf(p), secret: ownerSecret(p)}
		c.notify()
	} else if old.ref.ResourceVersion != p.ResourceVersion {
		old.ref.ResourceVersion = p.ResourceVersion
		c.pending[key] = old
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
	c.mu.Lock()
	c.drop(p.Namespace + "/" + p.Name)
	c.mu.Unlock()
	c.notify()
}

// drop forgets a pod that is gone or finished, and reports whether the
// cache had it; c.mu is held.
func (c *Cache) drop(key string) bool {
	_, had := c.pending[key]
	delete(c.pending, key)
	if a, ok := c.assumed[key]; ok {
		delete(c.assumed, key)
		c.dropLoad(a.placed)
		had = true
	}
	if b, ok := c.bound[key]; ok {
		delete(c.bound, key)
		c.dropLoad(b)
		had = true
	}
	return had
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
		a := assumedPod{
			placed:  placed{ref: pp.ref, node: nodes[i], req: pp.spec.Requests, tenant: pp.meta.tenant, job: pp.job},
			pending: pp,
		}
		c.assumed[key] = a
		c.addLoad(a.placed)
	}
}

// Forget drops assumptions for pods whose binding failed: those the API
// server has not shown bound are pending again.
func (c *Cache) Forget(pods []PodRef) {
	c.mu.Lock()
	for _, ref := range pods {
		key := ref.key()
		if a, ok := c.assumed[key]; ok {
			delete(c.assumed, key)
			c.dropLoad(a.placed)
			if !a.fresh {
				c.pending[key] = a.pending
			}
		}
	}
	c.mu.Unlock()
	c.notify()
}

// HasPending reports whether any of our pods waits unbound: without one,
// a scheduling cycle has nothing to do.
func (c *Cache) HasPending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) > 0
}

// Counts reports sizes for status and tests.
func (c *Cache) Counts() (nodes, bound, assumed, pending int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.nodes), len(c.bound), len(c.assumed), len(c.pending)
}
