package prepull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Labels and annotations of pull pods.
const (
	LabelPull      = "flotilla.io/prepull"
	AnnotPullImage = "flotilla.io/prepull-image"
	AnnotPullNode  = "flotilla.io/prepull-node"
	// ArchLabel is the node label naming its architecture.
	ArchLabel = "kubernetes.io/arch"
)

// Defaults of Options.
const (
	DefaultNamespace   = "flotilla-prepull"
	DefaultInterval    = 10 * time.Second
	DefaultImageTTL    = 10 * time.Minute
	DefaultRetryAfter  = time.Minute
	DefaultPullTimeout = 15 * time.Minute
	catalogWait        = 30 * time.Second
	resolveTimeout     = 20 * time.Second
	noCatalogBackoff   = 5 * time.Minute
)

// Hub is the part of the hub API the syncer uses (federation/client.Client).
type Hub interface {
	AgentCatalog(ctx context.Context, cluster string, index uint64, wait time.Duration) (*structs.AgentCatalog, error)
}

// Options tune a Syncer.
type Options struct {
	// Namespace holds the pull pods (default DefaultNamespace; created
	// when missing).
	Namespace string
	// Interval between passes (default DefaultInterval); a catalog change
	// starts one at once.
	Interval time.Duration
	// ImageTTL: an image's platforms are read again after this long
	// (tags move; default DefaultImageTTL).
	ImageTTL time.Duration
	// RetryAfter: a failed pull or image read is tried again after this
	// long (default DefaultRetryAfter).
	RetryAfter time.Duration
	// PullTimeout: a pull pod that has not started its container after
	// this long (a node that cannot run it, a pull that hangs) is deleted
	// and the pull counted failed (default DefaultPullTimeout).
	PullTimeout time.Duration
	// PodAnnotations are added to every pull pod.
	PodAnnotations map[string]string
}

// Syncer keeps the catalog's images on the cluster's nodes (see the
// package documentation).
type Syncer struct {
	Hub     Hub
	Cluster string
	Kube    kubernetes.Interface
	// MachineTypes returns the cluster's machine types as the hub last
	// sent them (nil while unknown).
	MachineTypes func() []*structs.MachineType
	// NodeSelector limits the nodes considered (nil: all) when Nodes is
	// nil.
	NodeSelector labels.Selector
	// Nodes returns the nodes the agent uses, a generation that changes
	// whenever they do, and whether they are known yet: the agent's node
	// informer (cache.Cache.Nodes), so a pass costs no API call. Nil lists
	// them from the API server on every pass.
	Nodes func() (nodes []Node, gen uint64, ok bool)
	// PodInformer, if set, is the agent's shared pod informer (every pod;
	// started by its owner); nil: the syncer watches its pull pods itself.
	PodInformer toolscache.SharedIndexInformer
	Options     Options
	// Resolve reads an image's platforms with the pull credential of its
	// app ("" for none; default Platforms).
	Resolve func(ctx context.Context, ref, pullSecret string) ([]string, error)
	Now     func() time.Time
	Log     *slog.Logger

	once   sync.Once
	wake   chan struct{}
	mu     sync.Mutex
	apps   []structs.AgentApp // nil until the hub's catalog was read
	images map[string]imageEntry
	pulls  map[PullKey]pullEntry
	report *structs.ClusterCatalog
	nsOK   bool
	// appsGen counts catalog changes; podGen counts pull pod events
	// (podStore is their informer's store, nil before Run); last and due
	// decide whether a pass has anything to do (see skip).
	appsGen  uint64
	podGen   atomic.Uint64
	podStore toolscache.Indexer
	last     passStamp
	due      time.Time
	ran      atomic.Uint64
	skipped  atomic.Uint64
	// credSecrets are the credential Secrets in the namespace as last
	// made (nil: not known yet).
	credSecrets map[string]bool
}

type imageEntry struct {
	img  Image
	at   time.Time
	cred string // the pull credential it was read with
}

type pullEntry struct {
	Pull
	at time.Time
}

func (s *Syncer) init() {
	s.once.Do(func() {
		s.wake = make(chan struct{}, 1)
		s.images, s.pulls = map[string]imageEntry{}, map[PullKey]pullEntry{}
		o := &s.Options
		if o.Namespace == "" {
			o.Namespace = DefaultNamespace
		}
		if o.Interval <= 0 {
			o.Interval = DefaultInterval
		}
		if o.ImageTTL <= 0 {
			o.ImageTTL = DefaultImageTTL
		}
		if o.RetryAfter <= 0 {
			o.RetryAfter = DefaultRetryAfter
		}
		if o.PullTimeout <= 0 {
			o.PullTimeout = DefaultPullTimeout
		}
		if s.Resolve == nil {
			s.Resolve = Platforms
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
	})
}

// Report is the latest catalog report (nil before the first pass that
// knew the hub's catalog and the machine types).
func (s *Syncer) Report() *structs.ClusterCatalog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.report
}

// Run watches the hub's catalog and the pull pods and runs passes until
// ctx ends.
func (s *Syncer) Run(ctx context.Context) {
	s.init()
	var wg sync.WaitGroup
	wg.Go(func() { s.watch(ctx) })
	if err := s.watchPullPods(ctx); err != nil {
		s.Log.Warn("prepull: watching pull pods; listing them on every pass", "err", err)
	}
	tick := time.NewTicker(s.Options.Interval)
	defer tick.Stop()
	for ctx.Err() == nil {
		s.pass(ctx)
		select {
		case <-ctx.Done():
		case <-tick.C:
		case <-s.wake:
		}
	}
	wg.Wait()
}

// watch follows the hub's catalog by index. A hub that serves none (an
// older hub answers 404) is asked again after noCatalogBackoff.
func (s *Syncer) watch(ctx context.Context) {
	var index uint64
	delay := time.Second
	for ctx.Err() == nil {
		cat, err := s.Hub.AgentCatalog(ctx, s.Cluster, index, catalogWait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := delay
			if structs.KindOf(err) == structs.ErrNotFound {
				s.Log.Info("the hub serves no catalog to agents; pre-pulling is off", "err", err)
				wait = noCatalogBackoff
			} else {
				s.Log.Warn("catalog read", "err", err)
				delay = min(2*delay, time.Minute)
			}
			sleep(ctx, wait)
			index = 0
			continue
		}
		delay = time.Second
		s.mu.Lock()
		if s.apps == nil || cat.Index != index {
			s.appsGen++
		}
		s.apps = cat.Apps
		if s.apps == nil {
			s.apps = []structs.AgentApp{}
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
		index = max(cat.Index, 1)
	}
}

// pass resolves images, observes pull pods, decides and acts.
func (s *Syncer) pass(ctx context.Context) {
	mts := s.MachineTypes()
	s.mu.Lock()
	apps := s.apps
	s.mu.Unlock()
	if apps == nil || mts == nil {
		return
	}
	nodes, stamp, err := s.observe(ctx, mts)
	if err != nil {
		if err != errNodesUnknown { // the node informer syncs at start
			s.Log.Warn("prepull: reading nodes", "err", err)
		}
		return
	}
	if s.skip(stamp) {
		s.skipped.Add(1)
		return
	}
	s.ran.Add(1)
	s.due = time.Time{} // a pass that returns early runs again next time
	s.resolve(ctx, apps)
	pods, err := s.pullPods(ctx)
	if err != nil {
		s.Log.Warn("prepull: listing pull pods", "err", err)
		return
	}
	now := s.Now()
	s.mu.Lock()
	in := Input{Apps: apps, MachineTypes: mts, Nodes: nodes, Images: map[string]Image{}, Pulls: map[PullKey]Pull{}}
	for ref, e := range s.images {
		in.Images[ref] = e.img
	}
	existing := map[PullKey]*corev1.Pod{}
	var finished []*corev1.Pod
	for _, p := range pods {
		k := PullKey{Image: p.Annotations[AnnotPullImage], Node: p.Annotations[AnnotPullNode]}
		existing[k] = p
		if p.DeletionTimestamp != nil {
			continue // going: what it showed is recorded
		}
		st, why := pullOf(p)
		switch st {
		case PullDone, PullFailed:
			s.pulls[k] = pullEntry{Pull: Pull{State: st, Reason: why}, at: now}
			finished = append(finished, p)
		default:
			switch e, ok := s.pulls[k]; {
			case ok && e.State == PullRunning && now.Sub(e.at) >= s.Options.PullTimeout:
				s.pulls[k] = pullEntry{Pull: Pull{State: PullFailed, Reason: "not started within " + s.Options.PullTimeout.String()}, at: now}
				finished = append(finished, p)
			case !ok:
				s.pulls[k] = pullEntry{Pull: Pull{State: PullRunning}, at: now}
			}
		}
	}
	for k, e := range s.pulls {
		switch {
		case e.State == PullRunning && existing[k] == nil, // its pod went away
			e.State == PullFailed && now.Sub(e.at) >= s.Options.RetryAfter:
			delete(s.pulls, k)
		default:
			in.Pulls[k] = e.Pull
		}
	}
	d := Decide(in)
	for k := range s.pulls {
		if !d.Wanted[k] {
			delete(s.pulls, k)
		}
	}
	for _, k := range d.Start {
		s.pulls[k] = pullEntry{Pull: Pull{State: PullRunning}, at: now}
	}
	s.report = d.Catalog
	due := s.nextDue()
	s.mu.Unlock()

	for k, p := range existing {
		if !d.Wanted[k] {
			finished = append(finished, p)
		}
	}
	for _, p := range finished {
		if err := s.Kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			s.Log.Warn("prepull: deleting pull pod", "pod", p.Name, "err", err)
		}
	}
	creds := imageCredentials(apps)
	if len(d.Start) > 0 && !s.ensureNamespace(ctx) {
		s.forget(d.Start)
		return
	}
	if !s.syncCredentials(ctx, creds) {
		s.forget(d.Start)
		return
	}
	failed := false
	for _, k := range d.Start {
		_, err := s.Kube.CoreV1().Pods(s.Options.Namespace).Create(ctx, s.pullPod(k, creds[k.Image]), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			s.Log.Warn("prepull: creating pull pod", "image", k.Image, "node", k.Node, "err", err)
			s.forget([]PullKey{k})
			failed = true
		}
	}
	if !failed {
		s.due = due
	}
}

// forget drops pulls that were not started.
func (s *Syncer) forget(keys []PullKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		delete(s.pulls, k)
	}
}

// resolve reads the platforms of images not known, expired, or failed a
// while ago.
func (s *Syncer) resolve(ctx context.Context, apps []structs.AgentApp) {
	now := s.Now()
	var todo []string
	s.mu.Lock()
	seen := map[string]bool{}
	creds := imageCredentials(apps)
	for _, a := range apps {
		if seen[a.Image] {
			continue
		}
		seen[a.Image] = true
		e, ok := s.images[a.Image]
		if !ok || e.cred != creds[a.Image] || (e.img.Err != "" && now.Sub(e.at) >= s.Options.RetryAfter) || now.Sub(e.at) >= s.Options.ImageTTL {
			todo = append(todo, a.Image)
		}
	}
	for ref := range s.images {
		if !seen[ref] {
			delete(s.images, ref)
		}
	}
	s.mu.Unlock()
	for _, ref := range todo {
		rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		ps, err := s.Resolve(rctx, ref, creds[ref])
		cancel()
		if ctx.Err() != nil {
			return
		}
		e := imageEntry{img: Image{Platforms: ps}, at: s.Now(), cred: creds[ref]}
		if err != nil {
			e.img = Image{Err: err.Error()}
			s.Log.Warn("prepull: reading image", "image", ref, "err", err)
		}
		s.mu.Lock()
		s.images[ref] = e
		s.mu.Unlock()
	}
}

// listNodes lists the nodes the agent uses from the API server (when
// the Syncer has no Nodes).
func (s *Syncer) listNodes(ctx context.Context) ([]Node, error) {
	opts := metav1.ListOptions{}
	if s.NodeSelector != nil && !s.NodeSelector.Empty() {
		opts.LabelSelector = s.NodeSelector.String()
	}
	list, err := s.Kube.CoreV1().Nodes().List(ctx, opts)
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(list.Items))
	for _, n := range list.Items {
		out = append(out, Node{Name: n.Name, Arch: n.Labels[ArchLabel], Labels: n.Labels})
	}
	return out, nil
}

// ensureNamespace makes the pull pods' namespace exist.
func (s *Syncer) ensureNamespace(ctx context.Context) bool {
	if s.nsOK {
		return true
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.Options.Namespace,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "flotilla-agent"}}}
	_, err := s.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		s.Log.Warn("prepull: creating namespace", "namespace", s.Options.Namespace, "err", err)
		return false
	}
	s.nsOK = true
	return true
}

// pullPod is the pod that pulls k.Image onto k.Node: bound to the node,
// tolerating every taint, asking for no resources (it must never keep a
// job off the node), running the image's shell to exit at once.
func (s *Syncer) pullPod(k PullKey, cred string) *corev1.Pod {
	sum := sha256.Sum256([]byte(k.Image + "\n" + k.Node))
	ann := map[string]string{}
	for a, v := range s.Options.PodAnnotations {
		ann[a] = v
	}
	ann[AnnotPullImage], ann[AnnotPullNode] = k.Image, k.Node
	no, grace := false, int64(0)
	var pullSecrets []corev1.LocalObjectReference
	if cred != "" {
		pullSecrets = []corev1.LocalObjectReference{{Name: credentialSecretName(cred)}}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pull-" + hex.EncodeToString(sum[:8]), Namespace: s.Options.Namespace,
			Labels:      map[string]string{LabelPull: "true", "app.kubernetes.io/managed-by": "flotilla-agent"},
			Annotations: ann},
		Spec: corev1.PodSpec{
			NodeName:                      k.Node,
			ImagePullSecrets:              pullSecrets,
			RestartPolicy:                 corev1.RestartPolicyNever,
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name: "pull", Image: k.Image, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"/bin/sh", "-c", "exit 0"},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no,
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
}

// pullErrors are the waiting reasons of a container whose image cannot be
// pulled.
var pullErrors = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"ErrImageNeverPull": true, "RegistryUnavailable": true}

// pullOf reads a pull pod: done once its container started or ended
// (whatever its exit: the image was there to start it), failed when the
// image cannot be pulled or the node refused the pod, else running.
func pullOf(p *corev1.Pod) (PullState, string) {
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Running != nil, cs.State.Terminated != nil:
			return PullDone, ""
		case cs.State.Waiting != nil && pullErrors[cs.State.Waiting.Reason]:
			return PullFailed, cs.State.Waiting.Reason + ": " + cs.State.Waiting.Message
		}
	}
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		return PullDone, ""
	case corev1.PodFailed:
		return PullFailed, p.Status.Reason + ": " + p.Status.Message
	}
	return PullRunning, ""
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
