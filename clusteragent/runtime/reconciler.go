package runtime

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
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
)

// PodDeleter deletes the pods of an ended job (binder.Binder: the only
// writer of pod deletions for gangs).
type PodDeleter interface {
	DeleteJobPods(ctx context.Context, namespace string, number uint64) error
}

// Placer creates a new gang's pods pre-placed (agent.SchedLoop): placed
// is false when the gang cannot be placed now, and then nothing was
// created. A create that failed part way left none of the pods behind;
// void is a start token it proved void (its head was never created).
type Placer interface {
	CreatePlaced(ctx context.Context, sec *corev1.Secret, pods []*corev1.Pod) (placed bool, void types.UID, err error)
}

// NodeChecker says whether a node is still in the cluster (cache.Cache).
type NodeChecker interface {
	NodeExists(name string) bool
}

// Reconciler is the agent's job runner: level 1 plus the job's life. It
// makes the runtime environment of every job the hub assigned here exist
// (Render's objects: the job Secret first, then, owned by it, machinefile,
// Services, NetworkPolicy, Ingress and pods; only what is missing, under
// names derived from the job number), follows the job's pods and reports
// each state change. What it does is decided by decide, a pure function of
// what it knows, what the cluster shows and the time; the rest is the
// shell that carries it out.
//
// A job runs at most once. The binder records the start on the job Secret
// before it binds the head; from then on the job's pods are never created
// again: a job whose pods are lost ends COMPLETED_WITH_ERROR naming the
// pod and node. A job ends once: its head's exit (0: COMPLETED, else
// COMPLETED_WITH_ERROR with the code), its walltime or the hub's cancel
// (TERMINATED, or CANCELED before it may have run), a failed worker or a
// lost pod. Its final state and log tail are written on the job Secret
// before they are reported; its pods are stopped then; its Secret and the
// rest are deleted once the hub acknowledged the end (Acknowledged). A
// restarted runner finds the recorded ends and reports them again.
//
// It implements the hub sync's runner: Add, Cancel, Acknowledged, Resync.
type Reconciler struct {
	Client kubernetes.Interface
	// Options are the runtime environment's cluster settings; their
	// Namespace is where the jobs run, their Image the app image of jobs
	// whose assignment names none.
	Options Options
	// Cluster is this cluster's name at the hub, stamped on reports.
	Cluster string
	// Pods deletes the pods of ended jobs; Nodes says which nodes exist.
	Pods  PodDeleter
	Nodes NodeChecker
	// Placer, if set, creates each new gang's pods pre-placed (one write
	// per pod, node set at create) when level 2 can place it now; nil, or
	// a gang that cannot be placed yet, gets its pods created unbound.
	Placer Placer
	// Filer serves ReadWriteOnce vaults; nil mounts their claims directly.
	Filer *filer.Manager
	// Random feeds SSH keys and tokens (nil: crypto/rand).
	Random io.Reader
	// LogTailLines (default DefaultLogTailLines) of the head's log, read
	// within LogTailTimeout (default DefaultLogTailTimeout), are recorded
	// and reported with the final state; a log that cannot be read leaves
	// it empty.
	LogTailLines   int
	LogTailTimeout time.Duration
	// PlacedGrace is how long the pods of a gang this runner created
	// pre-placed, and a job Secret it created, may stay unseen by its
	// informers before they count as lost or gone (default
	// DefaultPlacedGrace; tests that wait it out set it shorter).
	PlacedGrace time.Duration
	// LiveTailEvery is how often a running job's log tail is read and,
	// when it changed, reported (default DefaultLiveTailEvery; negative:
	// never, only the final tail).
	LiveTailEvery time.Duration
	// Logs reads container logs (default: the API server's pods/log).
	Logs LogReader
	// PodInformer, if set, is a pod informer shared with the rest of the
	// agent (every pod of the cluster, finished ones too; Run indexes it
	// by ManagedPodIndexers); nil: the runner watches its managed pods
	// itself. Sharing it halves the pod events the API server sends the
	// agent.
	PodInformer toolscache.SharedIndexInformer
	Now         func() time.Time
	Log         *slog.Logger
	// Report receives every job state change (from any goroutine).
	Report func(structs.JobStateUpdate)

	mu    sync.Mutex
	jobs  map[uint64]*tracked
	tombs map[uint64]tombstone
	// lastActive is the hub's last full listing of the jobs active here.
	lastActive map[uint64]bool
	pods       toolscache.Indexer // the pod informer's (see watch.go)
	secrets    toolscache.Store
	wake       chan struct{}
	// nsReady are the tenant namespaces made ready (ensureNamespace).
	nsReady map[string]bool
}

// tracked is one job: its input and the runner's view of it (guarded by
// Reconciler.mu).
type tracked struct {
	in Input
	// log is the logger of the job's lines (jobLogger).
	log *slog.Logger
	// ns is the job's namespace: its tenant's, or where its Secret was
	// found ("" while unknown).
	ns   string
	view jobView
	// next is a newer assignment of the job, run once this one is gone.
	next *tracked
	// progressAt is when an array job's progress was last read, progress
	// what was last reported (JSON).
	progressAt time.Time
	progress   string
	// tailAt is when the running job's log tail was last read, tail what
	// was last reported, runningSub the substatus of its RUNNING reports.
	tailAt     time.Time
	tail       string
	runningSub string
	// cancelTasks are an array job's canceled tasks as the hub last sent
	// them (see arraycancel.go).
	cancelTasks string
	// outputTasks are its unanswered requests for task outputs, as the
	// head's annotation carries them (see arrayoutput.go); outputsSent the
	// request (task -> sequence) each reported output answered.
	outputTasks string
	outputsSent map[int]uint64
	// signals are the job's signal requests as its pods' annotation
	// carries them (see signals.go).
	signals string
	// shares are the job's share links as the hub last sent them, and
	// sharesWritten the shares Secret's data the runner last wrote (see
	// shares.go).
	shares        []structs.JobShare
	sharesWritten string
	// madeSecret is the UID of the job Secret createObjects last had from
	// the API server, until the informer shows it (see jobView.secretMade).
	madeSecret types.UID
}

// tombstone remembers a job the runner finished with, so that a late
// redelivery does not run it again; it goes once two full listings of the
// hub after it did not list the job.
type tombstone struct {
	assigned time.Time
	state    structs.JobState
	misses   int
}

func (r *Reconciler) newTracked(in Input, problem string) *tracked {
	return &tracked{in: in, log: r.jobLogger(in.Job), ns: r.namespaceOf(in.Job.Tenant), view: jobView{
		nodes: in.Job.Nodes, walltime: time.Duration(in.Job.Walltime), problem: problem,
		assigned: true, state: in.Job.State, array: in.Job.Array != nil,
	}, cancelTasks: cancelTasksOf(in.Job), outputTasks: outputTasksOf(in.Job), signals: signalsOf(in.Job),
		shares: slices.Clone(in.Job.Shares), sharesWritten: noSharesWritten}
}

func cancelTasksOf(j *structs.Job) string {
	if j == nil || j.Array == nil {
		return ""
	}
	return j.Array.CancelTasks
}

// Add makes the runner responsible for an assigned job (see AddInput); for
// a job it runs already, it takes what may change while it runs (an array
// job's canceled tasks).
func (r *Reconciler) Add(a *structs.Assignment) {
	in, problem := InputOf(a)
	r.add(in, problem)
}

// AddInput makes the runner responsible for a job given as its render
// input (a job without a command cannot run). Idempotent: a job it has,
// running or ended, is not started again — unless the hub assigned it
// anew, which a later Job.AssignTime shows; that run starts once the
// earlier one is gone.
func (r *Reconciler) AddInput(in Input) {
	problem := ""
	if in.Command.Path == "" {
		problem = noCommand(in.Job)
	}
	r.add(in, problem)
}

func (r *Reconciler) add(in Input, problem string) {
	n := in.Job.Number
	r.mu.Lock()
	r.init()
	if tb, ok := r.tombs[n]; ok {
		if !in.Job.AssignTime.After(tb.assigned) {
			r.mu.Unlock()
			return
		}
		delete(r.tombs, n)
	}
	switch t, ok := r.jobs[n]; {
	case !ok:
		t = r.newTracked(in, problem)
		r.jobs[n] = t
		t.log.Info("job assigned here", "state", in.Job.State, "nodes", in.Job.Nodes, "problem", problem)
	case !t.view.assigned && !t.view.canceled: // found in the cluster; now assigned
		t.in, t.log = in, r.jobLogger(in.Job)
		t.log.Info("job found in the cluster is assigned here", "state", in.Job.State)
		if ns := r.namespaceOf(in.Job.Tenant); t.ns != ns {
			// Found in a namespace that is not its tenant's: it cannot run.
			t.view.problem = "job " + in.Job.ID + " was found in namespace " + t.ns + ", not its tenant's"
		}
		t.view.assigned, t.view.nodes, t.view.walltime, t.view.problem = true, in.Job.Nodes, time.Duration(in.Job.Walltime), problem
		t.view.array = in.Job.Array != nil
		if t.view.final == nil {
			t.view.state = in.Job.State
		}
	case (t.view.final != nil || t.view.canceled) && in.Job.AssignTime.After(t.in.Job.AssignTime):
		t.next = r.newTracked(in, problem)
		t.next.log.Info("job assigned here anew: runs once the earlier run is gone")
	case in.Job.AssignTime.Equal(t.in.Job.AssignTime):
		t.cancelTasks = cancelTasksOf(in.Job) // the same run, updated
		t.outputTasks = outputTasksOf(in.Job)
		t.signals = signalsOf(in.Job)
		t.shares = slices.Clone(in.Job.Shares)
	}
	r.mu.Unlock()
	r.poke()
}

// Cancel stops a job at the hub's request (stopped, or moved away): it
// ends TERMINATED, or CANCELED if it cannot have run. A job that already
// ended is left alone; a job the runner does not know has its objects (if
// any) removed.
func (r *Reconciler) Cancel(number uint64) {
	r.mu.Lock()
	r.init()
	t, ok := r.jobs[number]
	_, tomb := r.tombs[number]
	switch {
	case ok:
		t.view.canceled = true
		t.next = nil
		t.log.Info("job stopped by the hub")
	case !tomb:
		j := &structs.Job{Number: number}
		r.jobs[number] = &tracked{in: Input{Job: j}, log: r.jobLogger(j), view: jobView{canceled: true}}
	}
	r.mu.Unlock()
	r.poke()
}

// Acknowledged tells the runner that the hub recorded (or already had) the
// job's final state: its objects may go.
func (r *Reconciler) Acknowledged(number uint64) {
	r.mu.Lock()
	if t, ok := r.jobs[number]; ok {
		t.view.acked = true
	}
	r.mu.Unlock()
	r.poke()
}

// Resync takes the hub's complete listing of the jobs active here: a job
// the runner has that is not in it is canceled (moved away or stopped while
// no one listened), and tombstones not listed twice in a row go.
func (r *Reconciler) Resync(active map[uint64]bool) {
	r.mu.Lock()
	r.init()
	r.lastActive = maps.Clone(active)
	for n, t := range r.jobs {
		if !active[n] && t.view.final == nil {
			if !t.view.canceled {
				t.log.Info("job no longer listed by the hub: stopping it")
			}
			t.view.canceled = true
			t.next = nil
		}
	}
	for n, tb := range r.tombs {
		if active[n] {
			tb.misses = 0
		} else if tb.misses++; tb.misses >= 2 {
			delete(r.tombs, n)
			continue
		}
		r.tombs[n] = tb
	}
	r.mu.Unlock()
	r.poke()
}

// TearingDown tells the runner that level 2 is deleting the job's partly
// bound gang; TornDown that it finished, with the UID of the head it
// deleted unbound ("" if none): a start record naming that head is void.
func (r *Reconciler) TearingDown(number uint64) {
	r.mu.Lock()
	if t, ok := r.jobs[number]; ok {
		t.view.tearingDown = true
	}
	r.mu.Unlock()
}

// TornDown: see TearingDown.
func (r *Reconciler) TornDown(number uint64, voidHead types.UID) {
	r.mu.Lock()
	if t, ok := r.jobs[number]; ok {
		t.view.tearingDown = false
		if voidHead != "" {
			t.view.voidStarts = append(t.view.voidStarts, string(voidHead))
		}
	}
	r.mu.Unlock()
	r.poke()
}

// States returns the last known state of every job the runner has or
// recently had, by number.
func (r *Reconciler) States() map[uint64]structs.JobState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[uint64]structs.JobState, len(r.jobs)+len(r.tombs))
	for n, tb := range r.tombs {
		out[n] = tb.state
	}
	for n, t := range r.jobs {
		out[n] = t.view.state
	}
	return out
}

// NamespaceOf returns the namespace of a job the runner has.
func (r *Reconciler) NamespaceOf(number uint64) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.jobs[number]
	if !ok || t.ns == "" {
		return "", false
	}
	return t.ns, true
}

// Tracked returns how many jobs and tombstones the runner holds.
func (r *Reconciler) Tracked() (jobs, tombstones int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.jobs), len(r.tombs)
}

// init makes the maps; r.mu is held.
func (r *Reconciler) init() {
	if r.jobs == nil {
		r.jobs, r.tombs = map[uint64]*tracked{}, map[uint64]tombstone{}
	}
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

// reconcileAll takes one step or more for every job.
func (r *Reconciler) reconcileAll(ctx context.Context) {
	podsOf := map[uint64][]*corev1.Pod{}
	for _, o := range r.managedPods() {
		p, ok := o.(*corev1.Pod)
		if !ok || !managed(p) || !r.ownsNamespace(p.Namespace) {
			continue
		}
		if n, err := strconv.ParseUint(p.Labels[podgroup.LabelJob], 10, 64); err == nil {
			podsOf[n] = append(podsOf[n], p)
		}
	}
	secretOf := map[uint64]*corev1.Secret{}
	for _, o := range r.secrets.List() {
		s := o.(*corev1.Secret)
		if !r.ownsNamespace(s.Namespace) {
			continue
		}
		if n, err := strconv.ParseUint(s.Labels[podgroup.LabelJob], 10, 64); err == nil && s.Name == podgroup.JobName(n) {
			secretOf[n] = s
		}
	}
	r.mu.Lock()
	r.adopt(secretOf, podsOf)
	todo := make(map[uint64]*tracked, len(r.jobs))
	maps.Copy(todo, r.jobs)
	r.mu.Unlock()
	for n, t := range todo {
		r.step(ctx, n, t, secretOf[n], podsOf[n])
	}
}

// adopt tracks the jobs whose Secrets the runner finds without having
// them (after a restart): one with a recorded end is reported again, one
// without waits for the hub's listing (canceled if the last one did not
// name it). r.mu is held.
func (r *Reconciler) adopt(secretOf map[uint64]*corev1.Secret, podsOf map[uint64][]*corev1.Pod) {
	for n, s := range secretOf {
		if _, ok := r.jobs[n]; ok || s.DeletionTimestamp != nil {
			continue
		}
		if _, ok := r.tombs[n]; ok {
			continue
		}
		job := &structs.Job{ID: s.Annotations[podgroup.AnnotJobID], Number: n}
		for _, p := range podsOf[n] {
			if size, err := strconv.Atoi(p.Annotations[podgroup.AnnotGangSize]); err == nil {
				job.Nodes = size
			}
		}
		t := &tracked{in: Input{Job: job}, log: r.jobLogger(job), ns: s.Namespace, view: jobView{nodes: job.Nodes}}
		if r.lastActive != nil && !r.lastActive[n] {
			t.view.canceled = true
		}
		r.jobs[n] = t
		t.log.Info("found a job in the cluster", "namespace", s.Namespace, "final_recorded", s.Annotations[podgroup.AnnotFinal] != "")
	}
}

// noCommand is the problem of a job assigned without a command.
func noCommand(j *structs.Job) string {
	return "protocol error: the assignment of job " + j.ID + " carries neither a command nor a problem"
}
