package runtime

import (
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
)

// IndexManaged is the index of ManagedPodIndexers: the pods labelled as
// Flotilla's (podgroup.LabelManaged), under the key "true".
const IndexManaged = "flotilla-managed"

// ManagedPodIndexers index a pod informer's pods by IndexManaged, so the
// runner lists its own pods from an informer that holds every pod of the
// cluster without going through the others (Run adds it to PodInformer
// when it has none).
func ManagedPodIndexers() toolscache.Indexers {
	return toolscache.Indexers{IndexManaged: func(o any) ([]string, error) {
		if p, ok := o.(*corev1.Pod); ok && managed(p) {
			return []string{"true"}, nil
		}
		return nil, nil
	}}
}

func managed(p *corev1.Pod) bool { return p.Labels[podgroup.LabelManaged] == "true" }

// Run watches the job Secrets and pods and reconciles until ctx ends. The
// pods come from PodInformer when it is set (started by its owner; the
// runner only adds its handler), else from an informer of its own on the
// managed pods.
func (r *Reconciler) Run(ctx context.Context) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	r.mu.Lock()
	r.init()
	r.wake = make(chan struct{}, 1)
	r.mu.Unlock()
	watchNS := r.Options.Namespace
	if r.Options.NamespacePrefix != "" {
		watchNS = metav1.NamespaceAll // every tenant namespace; see ownsNamespace
	}
	f := informers.NewSharedInformerFactoryWithOptions(r.Client, 0, informers.WithNamespace(watchNS),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = podgroup.LabelManaged + "=true" }))
	podInf := r.PodInformer
	if podInf == nil {
		podInf = f.Core().V1().Pods().Informer()
	}
	if _, ok := podInf.GetIndexer().GetIndexers()[IndexManaged]; !ok {
		if err := podInf.AddIndexers(ManagedPodIndexers()); err != nil {
			return err
		}
	}
	secInf := f.Core().V1().Secrets().Informer()
	poke := func(any) { r.poke() }
	podReg, err := podInf.AddEventHandler(toolscache.FilteringResourceEventHandler{
		// A shared informer brings every pod of the cluster: only ours
		// in our namespaces wake the runner.
		FilterFunc: func(o any) bool {
			if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			p, ok := o.(*corev1.Pod)
			return ok && managed(p) && r.ownsNamespace(p.Namespace)
		},
		Handler: toolscache.ResourceEventHandlerFuncs{AddFunc: poke, UpdateFunc: func(any, any) { r.poke() }, DeleteFunc: poke},
	})
	if err != nil {
		return err
	}
	secReg, err := secInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: poke, UpdateFunc: func(any, any) { r.poke() }, DeleteFunc: poke})
	if err != nil {
		return err
	}
	r.pods, r.secrets = podInf.GetIndexer(), secInf.GetStore()
	f.Start(ctx.Done())
	defer f.Shutdown()
	if !toolscache.WaitForCacheSync(ctx.Done(), podInf.HasSynced, podReg.HasSynced, secReg.HasSynced) {
		return nil
	}
	if err := r.RelabelNamespaces(ctx); err != nil {
		// Each namespace is labelled again before its next job's objects.
		r.Log.Warn("tenant namespaces keep their pod security labels", "error", err)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		r.reconcileAll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-tick.C:
		}
	}
}

// managedPods are the pods labelled as Flotilla's, as the informer has
// them (every namespace: the caller filters).
func (r *Reconciler) managedPods() []any {
	pods, err := r.pods.ByIndex(IndexManaged, "true")
	if err != nil { // an informer without the index: go through every pod
		return r.pods.List()
	}
	return pods
}
