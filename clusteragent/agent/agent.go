package agent

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/flotilla-hpc/flotilla/clusteragent/binder"
	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Config wires one agent to one cluster.
type Config struct {
	Client    kubernetes.Interface
	Namespace string
	Image     string
	Scheduler scheduler.Options
	// NodeSelector limits the nodes this agent schedules onto.
	NodeSelector labels.Selector
	// BindParallelism bounds binding requests in flight (default 64).
	BindParallelism int
	Log             *slog.Logger
	Now             func() time.Time
	Report          func(structs.JobStateUpdate)
}

// Agent is the scheduling and job-running half of a cluster agent.
type Agent struct {
	Cache *cache.Cache
	Loop  *SchedLoop
	Jobs  *Reconciler
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
		Namespaces:    []string{cfg.Namespace},
		NodeSelector:  cfg.NodeSelector,
	})
	rec := &Reconciler{
		Client: cfg.Client, Namespace: cfg.Namespace, Now: cfg.Now, Log: cfg.Log, Report: cfg.Report,
		Pods: podgroup.Options{Image: cfg.Image},
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
	return &Agent{Cache: c, Loop: loop, Jobs: rec}
}

// Run starts the cache, then the scheduling loop and the reconciler, and
// returns when ctx ends (or the cache cannot start).
func (a *Agent) Run(ctx context.Context) error {
	if err := a.Cache.Run(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	var recErr error
	wg.Add(2)
	go func() { defer wg.Done(); a.Loop.Run(ctx) }()
	go func() { defer wg.Done(); recErr = a.Jobs.Run(ctx) }()
	wg.Wait()
	return recErr
}

// Why returns the scheduler's latest reason for a pending job of this agent.
func (a *Agent) Why(namespace string, number uint64) (scheduler.Pending, bool) {
	return a.Loop.Why(namespace + "/" + strconv.FormatUint(number, 10))
}
