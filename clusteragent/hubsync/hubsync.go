// Package hubsync connects a cluster agent to the hub: it watches this
// cluster's assignments by raft index and hands them to the job runner, and
// pushes job state changes, pending reasons and capacity back. It survives
// hub leader changes and restarts (the client retries other replicas; the
// watch resumes from its index, with a periodic full resync) and its own
// restart (the runner rebuilds from the labelled objects in the cluster).
package hubsync

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Hub is the part of the hub API the agent uses (federation/client.Client).
type Hub interface {
	Assignments(ctx context.Context, cluster string, index uint64, wait time.Duration) (*structs.AssignmentList, error)
	PushStatus(ctx context.Context, cluster string, rep *structs.ClusterStatusReport) (*structs.ClusterStatusResult, error)
	GetMachineType(ctx context.Context, name string) (*structs.MachineType, error)
	GetApp(ctx context.Context, name string) (*structs.App, error)
	ListMachineTypes(ctx context.Context) ([]*structs.MachineType, error)
	GetVault(ctx context.Context, tenant, name string) (*structs.Vault, error)
}

// Runner runs jobs in the cluster (agent.Reconciler).
type Runner interface {
	Add(agent.JobSpec)
	Cancel(number uint64)
}

// Config wires a Syncer.
type Config struct {
	Hub     Hub
	Cluster string
	Runner  Runner
	// Capacity returns free/total nodes per machine type right now.
	Capacity func(mts []*structs.MachineType) map[string]structs.Capacity
	// Identity, if set, resolves a job owner's uid/gid when the hub stamped
	// none (an id-mapper reading home-directory owners).
	Identity func(ctx context.Context, user string) (structs.Identity, bool, error)
	// Why returns the scheduler's reason a job is still pending, if it is.
	Why func(number uint64) (string, bool)
	// Heartbeat is the longest gap between status pushes (default 2 s).
	Heartbeat time.Duration
	// Resync is how often the whole assignment list is re-read (default 30 s).
	Resync time.Duration
	// Wait is the long-poll duration of the assignment watch (default 30 s).
	Wait time.Duration
	Log  *slog.Logger
	Now  func() time.Time
}

// Syncer runs the watch and report loops.
type Syncer struct {
	cfg Config

	mu      sync.Mutex
	reports []structs.JobReport
	wake    chan struct{}
	tracked map[string]uint64 // job id → number, jobs handed to the runner
	// finished holds jobs whose end was reported: a stale assignment read
	// after that must never start them again. Pruned by the full resync.
	finished map[string]bool
	machines map[string]*structs.MachineType
	sentWhy  map[string]string
	index    uint64
}

// New returns a Syncer.
func New(cfg Config) *Syncer {
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 2 * time.Second
	}
	if cfg.Resync == 0 {
		cfg.Resync = 30 * time.Second
	}
	if cfg.Wait == 0 {
		cfg.Wait = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Syncer{cfg: cfg, wake: make(chan struct{}, 1), tracked: map[string]uint64{}, finished: map[string]bool{},
		machines: map[string]*structs.MachineType{}, sentWhy: map[string]string{}}
}

// Report queues a job state change for the hub (the runner's Report hook).
func (s *Syncer) Report(u structs.JobStateUpdate) {
	s.mu.Lock()
	s.reports = append(s.reports, structs.JobReport{ID: u.ID, State: u.State, Substatus: u.Substatus, ExitCode: u.ExitCode, LogTail: u.LogTail})
	if u.State.IsTerminal() {
		s.finished[u.ID] = true
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Index is the assignment index the watch has reached.
func (s *Syncer) Index() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index
}

// Run runs both loops until ctx ends.
func (s *Syncer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.watchLoop(ctx) }()
	go func() { defer wg.Done(); s.reportLoop(ctx) }()
	wg.Wait()
}

// backoff sleeps d (or until ctx ends) and returns the next delay.
func backoff(ctx context.Context, d time.Duration) time.Duration {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return min(2*d, 5*time.Second)
}
