package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/binder"
	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/filer"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/prepull"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/version"
)

// ClusterConfig wires the cluster half of an agent to one cluster.
type ClusterConfig struct {
	Client kubernetes.Interface
	// Cluster is this cluster's name at the hub, stamped on reports.
	Cluster string
	// NamespacePrefix starts the names of the tenant namespaces: each
	// tenant's jobs (and filers) run in its own namespace,
	// podgroup.TenantNamespace(NamespacePrefix, tenant), which the agent
	// creates and labels. Default podgroup.DefaultNamespacePrefix.
	NamespacePrefix string
	// ExtraNamespaces are further namespaces whose gangs (pods naming the
	// flotilla scheduler, with Flotilla's gang labels, created by other
	// tools) level 2 schedules.
	ExtraNamespaces []string
	// Tolerations are added to every job pod (e.g. for a dedicated,
	// tainted HPC node pool).
	Tolerations []corev1.Toleration
	// Image is the app image of jobs whose assignment names none.
	Image     string
	Scheduler scheduler.Options
	// NodeSelector limits the nodes this agent schedules onto.
	NodeSelector labels.Selector
	// BindParallelism bounds binding requests in flight (default 64), and
	// the pre-placed creates in flight too.
	BindParallelism int
	// CreateUnbound turns pre-placed creates off: the agent's own jobs get
	// their pods created unbound and bound by level 2, as other tools'
	// pods are. By default a new gang that fits now is placed against the
	// cache and its pods are created with their nodes set.
	CreateUnbound bool
	Log           *slog.Logger
	Now           func() time.Time
	Report        func(structs.JobStateUpdate)

	// Runtime is the cluster's runtime environment: init image (default
	// flotilla-init at this build's version, internal/version), jobs domain and ingress of interactive jobs,
	// ports, cluster-wide mounts, network policy. Its embedded
	// podgroup.Options and NamespacePrefix are ignored: NamespacePrefix,
	// Image and Tolerations above apply.
	Runtime runtime.Options
	// Filer serves ReadWriteOnce vaults to jobs, each in its vault's
	// tenant's namespace.
	Filer filer.Options
	// Random feeds the jobs' SSH keys and tokens (default crypto/rand).
	Random io.Reader
	// LogTailLines of the head's log are reported when a job ends (default 50).
	LogTailLines int
	// LiveTailEvery is how often a running job's log tail is read and
	// reported (default runtime.DefaultLiveTailEvery; negative: never).
	LiveTailEvery time.Duration
	// Logs reads container logs (default: the API server's pods/log).
	Logs runtime.LogReader
	// PrePull tunes the catalog sync (pre-pulling the apps' images onto
	// the nodes, reporting where they run); NoPrePull turns it off.
	PrePull   prepull.Options
	NoPrePull bool
}

// Cluster is the cluster half of an agent: the informer cache, level 2
// (scheduling loop and binder), the job runner and the file servers.
type Cluster struct {
	Cache *cache.Cache
	Loop  *SchedLoop
	Jobs  *runtime.Reconciler
	// Filer runs the file servers of ReadWriteOnce vaults.
	Filer *filer.Manager

	informers informers.SharedInformerFactory // shared by Cache and Jobs
}

// NewCluster wires cache, scheduling loop and job runner.
func NewCluster(cfg ClusterConfig) *Cluster {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	prefix := cfg.NamespacePrefix
	if prefix == "" {
		prefix = podgroup.DefaultNamespacePrefix
	}
	// One informer per resource for the whole agent: the cache and the
	// runner share the pod informer, so the API server sends each pod
	// event once (it sent it to each of them before).
	shared := informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0, informers.WithTransform(trimObject))
	podInf := shared.Core().V1().Pods().Informer()
	c := cache.New(cfg.Client, cache.Options{
		SchedulerName:   podgroup.SchedulerName,
		Namespaces:      cfg.ExtraNamespaces,
		NamespacePrefix: prefix,
		NodeSelector:    cfg.NodeSelector,
		Informers:       shared,
	})
	ropts := cfg.Runtime
	if ropts.InitImage == "" {
		ropts.InitImage = version.Image("flotilla-init")
	}
	ropts.Options = podgroup.Options{Image: cfg.Image, Tolerations: cfg.Tolerations}
	ropts.NamespacePrefix = prefix
	fopts := cfg.Filer
	fopts.Namespace, fopts.NamespacePrefix = "", prefix
	fm := filer.New(cfg.Client, fopts, cfg.Now, cfg.Log.With("component", "filer"))
	b := binder.New(cfg.Client, cfg.BindParallelism)
	rec := &runtime.Reconciler{
		Client: cfg.Client, Options: ropts, Cluster: cfg.Cluster, Pods: b, Nodes: c,
		Now: cfg.Now, Log: cfg.Log, Report: cfg.Report,
		Filer: fm, Random: cfg.Random, LogTailLines: cfg.LogTailLines,
		LiveTailEvery: cfg.LiveTailEvery, Logs: cfg.Logs, PodInformer: podInf,
	}
	loop := &SchedLoop{
		Cache: c, Binder: b, Options: cfg.Scheduler, Now: cfg.Now, Log: cfg.Log,
		OnTeardown: func(id cache.GangID) {
			if podgroup.IsTenantNamespace(prefix, id.Namespace) {
				rec.TearingDown(id.Number)
			}
		},
		OnTornDown: func(id cache.GangID, voidHead types.UID) {
			if podgroup.IsTenantNamespace(prefix, id.Namespace) {
				rec.TornDown(id.Number, voidHead)
			}
		},
		JobLog: func(id cache.GangID) *slog.Logger {
			if podgroup.IsTenantNamespace(prefix, id.Namespace) {
				return rec.JobLog(id.Number)
			}
			return cfg.Log.With("namespace", id.Namespace, structs.LogJobNumber, id.Number)
		},
	}
	if !cfg.CreateUnbound {
		rec.Placer = loop
	}
	// The runner lowers a tenant namespace's Pod Security level for its
	// filers and brings it back when the last is gone.
	fm.SetNamespaces(rec)
	return &Cluster{Cache: c, Loop: loop, Jobs: rec, Filer: fm, informers: shared}
}

// PodInformer is the agent's one pod informer (every pod of the cluster),
// started by the cache: other parts of the agent add their handlers to it.
func (c *Cluster) PodInformer() toolscache.SharedIndexInformer {
	return c.informers.Core().V1().Pods().Informer()
}

// trimObject drops what the agent never reads from the objects its
// informers keep: the managed fields (server-side apply's bookkeeping,
// often the largest part of a pod's metadata).
func trimObject(o any) (any, error) {
	if m, ok := o.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return o, nil
}

// Run starts the cache, then the scheduling loop, the job runner and the
// filer manager, and returns when ctx ends (or the cache cannot start).
func (c *Cluster) Run(ctx context.Context) error {
	if err := c.Cache.Run(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	var recErr, filerErr error
	wg.Add(3)
	go func() { defer wg.Done(); c.Loop.Run(ctx) }()
	go func() { defer wg.Done(); recErr = c.Jobs.Run(ctx) }()
	go func() { defer wg.Done(); filerErr = c.Filer.Run(ctx) }()
	wg.Wait()
	c.informers.Shutdown()
	return errors.Join(recErr, filerErr)
}

// Why returns the scheduler's latest reason for a pending job of this agent.
func (c *Cluster) Why(number uint64) (scheduler.Pending, bool) {
	ns, ok := c.Jobs.NamespaceOf(number)
	if !ok {
		return scheduler.Pending{}, false
	}
	return c.Loop.Why(cache.GangID{Namespace: ns, Number: number})
}
