package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/flotilla-hpc/flotilla/clusteragent/binder"
	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/filer"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// DefaultInitImage is the image holding flotilla-init when Config.Runtime
// names none.
const DefaultInitImage = "ghcr.io/flotilla-hpc/flotilla-init:latest"

// Config wires one agent to one cluster.
type Config struct {
	Client    kubernetes.Interface
	Namespace string
	// ExtraNamespaces are further namespaces whose gangs (pods naming the
	// flotilla scheduler, with Flotilla's gang labels, created by other
	// tools) level 2 schedules; the agent's own jobs run in Namespace.
	ExtraNamespaces []string
	// Tolerations are added to every job pod (e.g. for a dedicated,
	// tainted HPC node pool).
	Tolerations []corev1.Toleration
	// Image is the app image of jobs whose JobSpec carries no App image.
	Image     string
	Scheduler scheduler.Options
	// NodeSelector limits the nodes this agent schedules onto.
	NodeSelector labels.Selector
	// BindParallelism bounds binding requests in flight (default 64).
	BindParallelism int
	Log             *slog.Logger
	Now             func() time.Time
	Report          func(structs.JobStateUpdate)

	// Runtime is the cluster's runtime environment: init image (default
	// DefaultInitImage), jobs domain and ingress of interactive jobs,
	// ports, cluster-wide mounts. Its embedded podgroup.Options are
	// ignored: Namespace and Image above apply.
	Runtime runtime.Options
	// DefaultCommand runs on the head of a job whose JobSpec carries neither
	// a Command nor an App (default HoldCommand).
	DefaultCommand structs.Command
	// Filer serves ReadWriteOnce vaults to jobs; its Namespace is Namespace.
	Filer filer.Options
	// Random feeds the jobs' SSH keys and tokens (default crypto/rand).
	Random io.Reader
	// LogTailLines of the head's log are reported when a job ends (default 50).
	LogTailLines int
}

// Agent is the scheduling and job-running half of a cluster agent.
type Agent struct {
	Cache *cache.Cache
	Loop  *SchedLoop
	Jobs  *Reconciler
	// Filer runs the file servers of ReadWriteOnce vaults.
	Filer *filer.Manager
}

// New wires cache, scheduling loop and reconciler.
func New(cfg Config) *Agent {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := cache.New(cfg.Client, cache.Options{
		SchedulerName: podgroup.SchedulerName,
		Namespaces:    append([]string{cfg.Namespace}, cfg.ExtraNamespaces...),
		NodeSelector:  cfg.NodeSelector,
	})
	if cfg.Runtime.InitImage == "" {
		cfg.Runtime.InitImage = DefaultInitImage
	}
	fopts := cfg.Filer
	fopts.Namespace = cfg.Namespace
	fm := filer.New(cfg.Client, fopts, cfg.Now, cfg.Log.With("component", "filer"))
	rec := &Reconciler{
		Client: cfg.Client, Namespace: cfg.Namespace, Now: cfg.Now, Log: cfg.Log, Report: cfg.Report,
		Pods:    podgroup.Options{Image: cfg.Image, Tolerations: cfg.Tolerations},
		Runtime: cfg.Runtime, DefaultCommand: cfg.DefaultCommand, Filer: fm,
		Random: cfg.Random, LogTailLines: cfg.LogTailLines,
	}
	loop := &SchedLoop{
		Cache: c, Binder: binder.New(cfg.Client, cfg.BindParallelism), Options: cfg.Scheduler,
		Now: cfg.Now, Log: cfg.Log,
		OnTeardown: func(gangID string) {
			if _, num, ok := strings.Cut(gangID, "/"); ok {
				if n, err := strconv.ParseUint(num, 10, 64); err == nil {
					rec.Rebuild(n)
				}
			}
		},
	}
	return &Agent{Cache: c, Loop: loop, Jobs: rec, Filer: fm}
}

// Run starts the cache, then the scheduling loop, the reconciler and the
// filer manager, and returns when ctx ends (or the cache cannot start).
func (a *Agent) Run(ctx context.Context) error {
	if err := a.Cache.Run(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	var recErr, filerErr error
	wg.Add(3)
	go func() { defer wg.Done(); a.Loop.Run(ctx) }()
	go func() { defer wg.Done(); recErr = a.Jobs.Run(ctx) }()
	go func() { defer wg.Done(); filerErr = a.Filer.Run(ctx) }()
	wg.Wait()
	return errors.Join(recErr, filerErr)
}

// Why returns the scheduler's latest reason for a pending job of this agent.
func (a *Agent) Why(namespace string, number uint64) (scheduler.Pending, bool) {
	return a.Loop.Why(namespace + "/" + strconv.FormatUint(number, 10))
}
