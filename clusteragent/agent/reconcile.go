package agent

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// JobSpec is an assigned job with the machine type it runs on.
type JobSpec struct {
	Job     *structs.Job
	Machine *structs.MachineType
}

// Reconciler is level 1 plus the job's life: it makes the pod group of every
// job the hub assigned here exist (creating only what is missing, under names
// derived from the job number, so a restart never duplicates), derives the
// job's state from its pods, and reports each change exactly once. A job
// ends once: its head's exit decides, nothing is restarted, and its objects
// are removed after the end.
type Reconciler struct {
	Client    kubernetes.Interface
	Namespace string
	Pods      podgroup.Options
	Now       func() time.Time
	Log       *slog.Logger
	// Report receives every job state change (from any goroutine).
	Report func(structs.JobStateUpdate)

	mu       sync.Mutex
	jobs     map[uint64]*tracked
	podStore toolscache.Store
	wake     chan struct{}
}

type tracked struct {
	spec       JobSpec
	state      structs.JobState // last reported
	rebuilding bool             // level 2 tore the gang down; recreate when gone
	ended      bool
}

// Add makes the reconciler responsible for a job (idempotent).
func (r *Reconciler) Add(js JobSpec) {
	r.mu.Lock()
	if r.jobs == nil {
		r.jobs = map[uint64]*tracked{}
	}
	if _, ok := r.jobs[js.Job.Number]; !ok {
		r.jobs[js.Job.Number] = &tracked{spec: js, state: js.Job.State}
	}
	r.mu.Unlock()
	r.poke()
}

// Rebuild marks a gang being torn down by level 2 so missing pods are
// recreated instead of read as a lost node.
func (r *Reconciler) Rebuild(number uint64) {
	r.mu.Lock()
	if t, ok := r.jobs[number]; ok {
		t.rebuilding = true
	}
	r.mu.Unlock()
}

func (r *Reconciler) poke() {
	if r.wake == nil {
		return
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run watches the job pods and reconciles until ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Log == nil {
		r.Log = slog.Default()
	}
	r.mu.Lock()
	r.wake = make(chan struct{}, 1)
	r.mu.Unlock()
	f := informers.NewSharedInformerFactoryWithOptions(r.Client, 0, informers.WithNamespace(r.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = podgroup.LabelManaged + "=true" }))
	inf := f.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { r.poke() },
		UpdateFunc: func(any, any) { r.poke() },
		DeleteFunc: func(any) { r.poke() },
	}); err != nil {
		return err
	}
	r.podStore = inf.GetStore()
	f.Start(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return ctx.Err()
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

func (r *Reconciler) reconcileAll(ctx context.Context) {
	byJob := map[uint64][]*corev1.Pod{}
	for _, o := range r.podStore.List() {
		p := o.(*corev1.Pod)
		n, err := strconv.ParseUint(p.Labels[podgroup.LabelJob], 10, 64)
		if err == nil {
			byJob[n] = append(byJob[n], p)
		}
	}
	r.mu.Lock()
	jobs := make([]*tracked, 0, len(r.jobs))
	for _, t := range r.jobs {
		if !t.ended {
			jobs = append(jobs, t)
		}
	}
	r.mu.Unlock()
	for _, t := range jobs {
		if err := r.reconcile(ctx, t, byJob[t.spec.Job.Number]); err != nil && ctx.Err() == nil {
			r.Log.Warn("reconcile job", "job", t.spec.Job.Number, "err", err)
		}
	}
}

// observation is what a job's pods say about it.
type observation struct {
	present, bound, running int
	headDone                bool
	headPhase               corev1.PodPhase
	headExit                int
	deadline                bool
	workerFailed            bool
}

func observe(pods []*corev1.Pod) observation {
	var o observation
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		o.present++
		if p.Spec.NodeName != "" {
			o.bound++
		}
		head := p.Labels[podgroup.LabelRank] == "0"
		switch p.Status.Phase {
		case corev1.PodRunning:
			o.running++
		case corev1.PodSucceeded, corev1.PodFailed:
			if head {
				o.headDone, o.headPhase = true, p.Status.Phase
				o.headExit = exitCode(p)
				o.deadline = p.Status.Reason == "DeadlineExceeded"
			} else if p.Status.Phase == corev1.PodFailed {
				o.workerFailed = true
			}
		}
	}
	return o
}

func exitCode(p *corev1.Pod) int {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Terminated != nil {
			return int(cs.State.Terminated.ExitCode)
		}
	}
	if p.Status.Phase == corev1.PodFailed {
		return 1
	}
	return 0
}

func (r *Reconciler) reconcile(ctx context.Context, t *tracked, pods []*corev1.Pod) error {
	job := t.spec.Job
	o := observe(pods)
	switch {
	case o.headDone && o.deadline:
		return r.finish(ctx, t, structs.JobTerminated, "walltime exceeded", o.headExit)
	case o.headDone && o.headPhase == corev1.PodSucceeded:
		return r.finish(ctx, t, structs.JobCompleted, "head exited 0", 0)
	case o.headDone:
		return r.finish(ctx, t, structs.JobCompletedWithError, fmt.Sprintf("head exited %d", o.headExit), o.headExit)
	case o.workerFailed:
		return r.finish(ctx, t, structs.JobCompletedWithError, "a worker pod failed", 1)
	}
	if o.present < job.Nodes {
		if o.bound > 0 && !t.rebuilding && t.state.Started() {
			return r.finish(ctx, t, structs.JobCompletedWithError, fmt.Sprintf("lost %d of %d pods", job.Nodes-o.present, job.Nodes), 1)
		}
		if o.bound > 0 {
			return nil // a torn-down gang still draining; recreate once it is gone
		}
		r.mu.Lock()
		t.rebuilding = false
		r.mu.Unlock()
		return r.createPods(ctx, t.spec, pods)
	}
	switch {
	case o.running == job.Nodes:
		r.transition(t, structs.JobStarting, "all pods bound, starting", 0)
		r.transition(t, structs.JobRunning, fmt.Sprintf("%d of %d pods running", o.running, job.Nodes), 0)
	case o.bound == job.Nodes:
		r.transition(t, structs.JobStarting, "all pods bound, starting", 0)
	}
	return nil
}

func (r *Reconciler) createPods(ctx context.Context, js JobSpec, existing []*corev1.Pod) error {
	have := map[string]bool{}
	for _, p := range existing {
		have[p.Name] = true
	}
	opts := r.Pods
	opts.Namespace = r.Namespace
	pods, err := podgroup.Build(js.Job, js.Machine, opts)
	if err != nil {
		return err
	}
	for _, p := range pods {
		if have[p.Name] {
			continue
		}
		if _, err := r.Client.CoreV1().Pods(r.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create pod %s: %w", p.Name, err)
		}
	}
	return nil
}

// transition reports a state change once.
func (r *Reconciler) transition(t *tracked, s structs.JobState, sub string, code int) bool {
	r.mu.Lock()
	if t.state == s || t.ended || (t.state != "" && !structs.CanTransition(t.state, s)) {
		r.mu.Unlock()
		return false
	}
	t.state = s
	if s.IsTerminal() {
		t.ended = true
	}
	r.mu.Unlock()
	if r.Report != nil {
		r.Report(structs.JobStateUpdate{ID: t.spec.Job.ID, Cluster: t.spec.Job.Cluster, State: s, Substatus: sub, ExitCode: code, Time: r.Now()})
	}
	return true
}

// finish reports the job's end once and removes its pods.
func (r *Reconciler) finish(ctx context.Context, t *tracked, s structs.JobState, sub string, code int) error {
	r.transition(t, s, sub, code)
	return r.Client.CoreV1().Pods(r.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))},
		metav1.ListOptions{LabelSelector: podgroup.LabelJob + "=" + strconv.FormatUint(t.spec.Job.Number, 10)})
}

// States returns the last reported state of every job, by number.
func (r *Reconciler) States() map[uint64]structs.JobState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[uint64]structs.JobState, len(r.jobs))
	for n, t := range r.jobs {
		out[n] = t.state
	}
	return out
}
