package prepull

import (
	"context"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// A pass costs no API call while nothing changed: the nodes come from the
// agent's node informer (Syncer.Nodes), the pull pods from an informer on
// the pull namespace, and a pass whose inputs (catalog, machine types,
// nodes, pull pods) are those of the last one is skipped until a
// deadline of its own (a pull's timeout, a retry, an image's TTL) comes.

// Passes counts the passes run and those skipped because nothing
// changed.
func (s *Syncer) Passes() (ran, skipped uint64) { return s.ran.Load(), s.skipped.Load() }

// passStamp identifies the inputs of a pass; zero node or pod
// generations mean "read from the API server", never equal.
type passStamp struct {
	apps  uint64
	mts   string
	nodes uint64
	pods  uint64
}

// observe reads the nodes and the stamp of this pass's inputs.
func (s *Syncer) observe(ctx context.Context, mts []*structs.MachineType) ([]Node, passStamp, error) {
	s.mu.Lock()
	st := passStamp{apps: s.appsGen, mts: machineTypesStamp(mts)}
	s.mu.Unlock()
	if s.podStore != nil {
		st.pods = s.podGen.Load() + 1
	}
	if s.Nodes == nil {
		nodes, err := s.listNodes(ctx)
		return nodes, st, err
	}
	nodes, gen, ok := s.Nodes()
	if !ok {
		return nil, st, errNodesUnknown
	}
	st.nodes = gen + 1
	return nodes, st, nil
}

type nodesUnknown struct{}

func (nodesUnknown) Error() string { return "the node informer has not synced yet" }

var errNodesUnknown error = nodesUnknown{}

// skip says whether a pass would only repeat the last one: the same
// inputs, and none of its deadlines come. It records the stamp.
func (s *Syncer) skip(st passStamp) bool {
	same := st == s.last && st.nodes != 0 && st.pods != 0 && !s.due.IsZero() && s.Now().Before(s.due)
	s.last = st
	return same
}

// machineTypesStamp changes whenever a machine type does.
func machineTypesStamp(mts []*structs.MachineType) string {
	var b strings.Builder
	for _, mt := range mts {
		b.WriteString(mt.Name)
		b.WriteByte('@')
		b.WriteString(strconv.FormatUint(mt.ModifyIndex, 10))
		b.WriteByte(' ')
	}
	return b.String()
}

// nextDue is the first time something the last pass saw changes by
// itself: a running pull's timeout, a failed pull's or image read's
// retry, an image's TTL. s.mu is held.
func (s *Syncer) nextDue() time.Time {
	var due time.Time
	soon := func(t time.Time) {
		if due.IsZero() || t.Before(due) {
			due = t
		}
	}
	for _, e := range s.images {
		soon(e.at.Add(s.Options.ImageTTL))
		if e.img.Err != "" {
			soon(e.at.Add(s.Options.RetryAfter))
		}
	}
	for _, e := range s.pulls {
		switch e.State {
		case PullRunning:
			soon(e.at.Add(s.Options.PullTimeout))
		case PullFailed:
			soon(e.at.Add(s.Options.RetryAfter))
		}
	}
	if due.IsZero() {
		due = s.Now().Add(s.Options.ImageTTL) // nothing pending: look again now and then
	}
	return due
}

// watchPullPods follows the pull pods (the pull namespace, LabelPull):
// through the agent's shared pod informer, or an informer of its own (one
// LIST, then a watch).
func (s *Syncer) watchPullPods(ctx context.Context) error {
	inf, f := s.PodInformer, informers.SharedInformerFactory(nil)
	if inf == nil {
		f = informers.NewSharedInformerFactoryWithOptions(s.Kube, 0, informers.WithNamespace(s.Options.Namespace),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = LabelPull + "=true" }))
		inf = f.Core().V1().Pods().Informer()
	}
	changed := func(any) {
		s.podGen.Add(1)
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	reg, err := inf.AddEventHandler(toolscache.FilteringResourceEventHandler{
		FilterFunc: func(o any) bool {
			if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			p, ok := o.(*corev1.Pod)
			return ok && s.isPullPod(p)
		},
		Handler: toolscache.ResourceEventHandlerFuncs{AddFunc: changed, UpdateFunc: func(_, o any) { changed(o) }, DeleteFunc: changed},
	})
	if err != nil {
		return err
	}
	if f != nil {
		f.Start(ctx.Done())
		go func() { <-ctx.Done(); f.Shutdown() }()
	}
	if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced, reg.HasSynced) {
		return ctx.Err()
	}
	s.podStore = inf.GetIndexer()
	return nil
}

// isPullPod reports whether p is one of the syncer's pull pods.
func (s *Syncer) isPullPod(p *corev1.Pod) bool {
	return p.Namespace == s.Options.Namespace && p.Labels[LabelPull] == "true"
}

// pullPods are the pull pods: from the informer, or listed when there is
// none.
func (s *Syncer) pullPods(ctx context.Context) ([]*corev1.Pod, error) {
	if s.podStore != nil {
		var out []*corev1.Pod
		objs, err := s.podStore.ByIndex(toolscache.NamespaceIndex, s.Options.Namespace)
		if err != nil {
			objs = s.podStore.List()
		}
		for _, o := range objs {
			if p, ok := o.(*corev1.Pod); ok && s.isPullPod(p) {
				out = append(out, p)
			}
		}
		return out, nil
	}
	l, err := s.Kube.CoreV1().Pods(s.Options.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelPull + "=true"})
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.Pod, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out, nil
}
