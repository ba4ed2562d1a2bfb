package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/filer"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Defaults of the Reconciler.
const (
	DefaultLogTailLines   = 50
	DefaultLogTailTimeout = 5 * time.Second
	DefaultTombstoneTTL   = time.Hour
)

// Reconciler is level 1 plus the job's life: it makes the runtime
// environment of every job the hub assigned here exist (Render's
// objects: the job Secret first, then, owned by it, machinefile, Services,
// NetworkPolicy, Ingress and pods; only what is missing, under names derived
// from the job number, so a restart never duplicates), derives the job's
// state from its pods, and reports each change exactly once. A job ends
// once: its head's exit decides (0: COMPLETED, else COMPLETED_WITH_ERROR
// with the code), its walltime or a cancel ends it TERMINATED (CANCELED
// before it started), a lost pod ends it with an error; nothing is
// restarted. After the end the head's log tail is reported with the final
// state, every object of the job is removed, and the job is no longer
// reconciled (a tombstone keeps its state, so a redelivery does not run it
// again).
type Reconciler struct {
	Client kubernetes.Interface
	// Options are the runtime environment's cluster settings; their
	// Namespace is where the jobs run, their Image the app image of jobs
	// whose assignment names none.
	Options Options
	// DefaultCommand runs on the head of a job whose spec has no command
	// (zero: HoldCommand).
	DefaultCommand structs.Command
	// Filer serves ReadWriteOnce vaults; nil mounts their claims directly.
	Filer *filer.Manager
	// Random feeds SSH keys and tokens (nil: crypto/rand).
	Random io.Reader
	// LogTailLines (default DefaultLogTailLines) of the head's log, read
	// within LogTailTimeout (default DefaultLogTailTimeout), are reported
	// with the final state; a log that cannot be read leaves it empty.
	LogTailLines   int
	LogTailTimeout time.Duration
	// TombstoneTTL is how long an ended job is remembered (default
	// DefaultTombstoneTTL).
	TombstoneTTL time.Duration
	Now          func() time.Time
	Log          *slog.Logger
	// Report receives every job state change (from any goroutine).
	Report func(structs.JobStateUpdate)

	mu       sync.Mutex
	jobs     map[uint64]*tracked
	podStore toolscache.Store
	wake     chan struct{}
}

// next is a newer assignment of a job.
type next struct {
	spec    Input
	problem string
}

// tracked is one job. The fields before startedAt are guarded by
// Reconciler.mu; startedAt belongs to the reconcile loop.
type tracked struct {
	spec       Input
	state      structs.JobState // last reported
	rebuilding bool             // level 2 tore the gang down; recreate when gone
	ended      bool             // terminal state reached
	canceled   bool             // the hub asked to stop it
	cleaned    bool             // its objects are deleted; no longer reconciled
	endedAt    time.Time
	next       *next  // a newer assignment, run once this one is cleaned up
	problem    string // why the job cannot run, if it cannot

	startedAt time.Time // when it started running, as this reconciler saw it
}

// Add makes the reconciler responsible for an assigned job (see AddInput).
func (r *Reconciler) Add(a *structs.Assignment) {
	in, problem := InputOf(a)
	r.add(in, problem)
}

// AddInput makes the reconciler responsible for a job (idempotent: a job it
// already has, running or ended, is not started again — unless the hub
// assigned it anew, which a later Job.AssignTime shows).
func (r *Reconciler) AddInput(in Input) { r.add(in, "") }

func (r *Reconciler) add(js Input, problem string) {
	r.mu.Lock()
	if r.jobs == nil {
		r.jobs = map[uint64]*tracked{}
	}
	n := js.Job.Number
	switch t, ok := r.jobs[n]; {
	case !ok:
		r.jobs[n] = &tracked{spec: js, problem: problem, state: js.Job.State}
	case (t.ended || t.canceled) && js.Job.AssignTime.After(t.spec.Job.AssignTime):
		t.next = &next{spec: js, problem: problem}
	}
	r.mu.Unlock()
	r.poke()
}

// Cancel stops a job at the hub's request: its objects are deleted and it
// is reported TERMINATED, or CANCELED if it had not started. A job that
// already ended is left alone; a job the reconciler does not know has its
// objects (if any) deleted without a report.
func (r *Reconciler) Cancel(number uint64) {
	r.mu.Lock()
	if r.jobs == nil {
		r.jobs = map[uint64]*tracked{}
	}
	t, ok := r.jobs[number]
	if !ok {
		t = &tracked{spec: Input{Job: &structs.Job{Number: number}}}
		r.jobs[number] = t
	}
	t.canceled = true
	t.next = nil
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
	r.mu.Lock()
	wake := r.wake
	r.mu.Unlock()
	if wake == nil {
		return
	}
	select {
	case wake <- struct{}{}:
	default:
	}
}

// Run watches the job pods and reconciles until ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	r.mu.Lock()
	r.wake = make(chan struct{}, 1)
	r.mu.Unlock()
	f := informers.NewSharedInformerFactoryWithOptions(r.Client, 0, informers.WithNamespace(r.Options.Namespace),
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
	defer f.Shutdown()
	if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil
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
	now := r.Now()
	ttl := r.TombstoneTTL
	if ttl == 0 {
		ttl = DefaultTombstoneTTL
	}
	type work struct {
		t               *tracked
		ended, canceled bool
		number          uint64
	}
	var todo []work
	r.mu.Lock()
	for n, t := range r.jobs {
		if t.cleaned {
			switch {
			case t.next != nil: // assigned anew after it ended here
				r.jobs[n] = &tracked{spec: t.next.spec, problem: t.next.problem, state: t.next.spec.Job.State}
				todo = append(todo, work{t: r.jobs[n], number: n})
			case now.Sub(t.endedAt) > ttl:
				delete(r.jobs, n)
			}
			continue
		}
		todo = append(todo, work{t: t, ended: t.ended, canceled: t.canceled, number: n})
	}
	r.mu.Unlock()
	for _, w := range todo {
		var err error
		switch {
		case w.ended:
			err = r.cleanup(ctx, w.t)
		case w.canceled:
			err = r.cancel(ctx, w.t, byJob[w.number])
		default:
			err = r.reconcile(ctx, w.t, byJob[w.number])
		}
		if err != nil && ctx.Err() == nil {
			r.Log.Warn("reconcile job", "job", w.number, "err", err)
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
	head                    *corev1.Pod // rank 0, if present
	start                   time.Time   // earliest pod start, zero if none started
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
		if head {
			o.head = p
		}
		if st := p.Status.StartTime; st != nil && (o.start.IsZero() || st.Time.Before(o.start)) {
			o.start = st.Time
		}
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

// startedBy bounds the job's start from above: the pods' earliest start
// time, which the API keeps to the second, rounded up, so that walltime
// counted from it never cuts a job short. Zero if no pod started.
func (o observation) startedBy() time.Time {
	if o.start.IsZero() {
		return o.start
	}
	return o.start.Truncate(time.Second).Add(time.Second)
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
		return r.finish(ctx, t, o, structs.JobTerminated, "walltime exceeded", o.headExit)
	case o.headDone && o.headPhase == corev1.PodSucceeded:
		return r.finish(ctx, t, o, structs.JobCompleted, "head exited 0", 0)
	case o.headDone:
		return r.finish(ctx, t, o, structs.JobCompletedWithError, fmt.Sprintf("head exited %d", o.headExit), o.headExit)
	case o.workerFailed:
		return r.finish(ctx, t, o, structs.JobCompletedWithError, "a worker pod failed", 1)
	}
	if w := time.Duration(job.Walltime); w > 0 && o.bound > 0 {
		start := t.startedAt
		if start.IsZero() {
			start = o.startedBy()
		}
		if !start.IsZero() && r.Now().After(start.Add(w)) {
			return r.finish(ctx, t, o, structs.JobTerminated, fmt.Sprintf("walltime %s exceeded", w), 0)
		}
	}
	r.mu.Lock()
	rebuilding, state := t.rebuilding, t.state
	r.mu.Unlock()
	if o.present < job.Nodes {
		if o.bound > 0 && !rebuilding && state.Started() {
			return r.finish(ctx, t, o, structs.JobCompletedWithError, fmt.Sprintf("lost %d of %d pods", job.Nodes-o.present, job.Nodes), 1)
		}
		if o.bound > 0 {
			return nil // a torn-down gang still draining; recreate once it is gone
		}
		r.mu.Lock()
		t.rebuilding = false
		r.mu.Unlock()
		return r.ensureObjects(ctx, t, pods)
	}
	switch {
	case o.running == job.Nodes:
		r.transition(t, structs.JobStarting, "all pods bound, starting", 0, "")
		if r.transition(t, structs.JobRunning, fmt.Sprintf("%d of %d pods running", o.running, job.Nodes), 0, "") {
			t.startedAt = r.Now()
			if s := o.startedBy(); !s.IsZero() && s.Before(t.startedAt) {
				t.startedAt = s
			}
		}
	case o.bound == job.Nodes:
		r.transition(t, structs.JobStarting, "all pods bound, starting", 0, "")
	}
	return nil
}

// transition reports a state change once.
func (r *Reconciler) transition(t *tracked, s structs.JobState, sub string, code int, logTail string) bool {
	r.mu.Lock()
	if t.state == s || t.ended || (t.state != "" && !structs.CanTransition(t.state, s)) {
		r.mu.Unlock()
		return false
	}
	t.state = s
	if s.IsTerminal() {
		t.ended, t.endedAt = true, r.Now()
	}
	r.mu.Unlock()
	if r.Report != nil && t.spec.Job.ID != "" {
		r.Report(structs.JobStateUpdate{ID: t.spec.Job.ID, Number: t.spec.Job.Number, Cluster: t.spec.Job.Cluster,
			State: s, Substatus: sub,
			ExitCode: code, LogTail: logTail, Time: r.Now()})
	}
	return true
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
