// Package hubsync is a cluster agent's link to the hub: it carries out the
// agent's half of the hub ↔ agent contract. It imports no other agent
// package: the runner (Runner) and the capacity report (Config.Capacity,
// computed by the scheduler) are handed in.
//
// Assignments. hubsync reads the cluster's self-contained assignments
// (structs.AssignmentList): a full listing when it starts and every
// Resync, and in between a watch by raft index. An assignment holds all a
// job needs — the job, its machine type, its app's command and image, its
// vault and identity — or a Problem saying what no longer exists; hubsync
// calls the hub back for none of it (only the optional id-mapper, a
// cluster-local service, for a job without identity). It drives the job
// runner through Runner:
//
//   - Add for a job active here it has not handed over yet; a redelivery
//     is not handed again, nor a job whose end the runner reported.
//   - Cancel for a job it handed over that the hub stopped, ended or moved
//     to another cluster.
//   - Resync after every complete full listing (all its pages), with the
//     numbers of every job active here: the runner stops what else it runs.
//   - Acknowledged once the hub recorded a job's final state (or refused
//     it for good): only then may the runner delete the job's objects.
//
// Pages come in job-number order; the watch goes on from the first page's
// index, so nothing that changed while it paged is missed. The machine
// types of the latest reply feed the capacity report: a change at the hub
// reaches the agent with the next watch, without a restart.
//
// Reports. The runner's state changes arrive through Report, each with
// its job number, and are lossless: a push sends them in order, and each
// stays queued until the hub answers applied or stale; a retry outcome or
// a failed push keeps it for the next push. A push goes out at once when
// reports wait, and at least every Heartbeat with the cluster's status,
// its capacity per machine type, the reasons jobs still wait for nodes,
// and the agent's version and features (Config.Agent).
//
// Memory stays bounded: hubsync tracks the jobs active here, and the
// finished ones (whose end it reported, so that a late assignment cannot
// start them again) until the hub shows the end or a later full listing
// no longer lists them.
package hubsync

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Hub is the part of the hub API the agent uses (federation/client.Client).
type Hub interface {
	Assignments(ctx context.Context, cluster string, q client.AssignmentQuery) (*structs.AssignmentList, error)
	PushStatus(ctx context.Context, cluster string, rep *structs.ClusterStatusReport) (*structs.ClusterStatusResult, error)
}

// Runner runs the cluster's jobs (the agent's job reconciler). hubsync
// calls it from its watch loop (Add, Cancel, Resync) and its report loop
// (Acknowledged); calls must not block for long.
type Runner interface {
	// Add runs the job (idempotent: a redelivery of a known job is
	// ignored, but for what may change while it runs: an array job's
	// canceled tasks, which are redelivered as they grow). With a.Problem
	// set it ends the job with that reason and creates nothing for it.
	Add(a *structs.Assignment)
	// Cancel stops a job: the hub stopped it or moved it away.
	Cancel(number uint64)
	// Acknowledged says the hub recorded (or already had) the job's final
	// state: its objects may go.
	Acknowledged(number uint64)
	// Resync follows each complete full listing: the numbers of all the
	// jobs active at the hub on this cluster.
	Resync(active map[uint64]bool)
}

// Defaults of Config.
const (
	DefaultHeartbeat = 2 * time.Second
	DefaultResync    = 30 * time.Second
	DefaultWait      = 30 * time.Second
	DefaultPageSize  = 1000
	DefaultBackoff   = 100 * time.Millisecond
	// MaxReportsPerPush bounds the job reports of one push.
	MaxReportsPerPush = 1000
)

// Config wires a Syncer.
type Config struct {
	Hub     Hub
	Cluster string
	Runner  Runner
	// Capacity returns free/total nodes per machine type right now (nil
	// when not known yet).
	Capacity func(mts []*structs.MachineType) map[string]structs.Capacity
	// Identity, if set, resolves a job owner's uid/gid when the hub knows
	// none (an id-mapper reading home-directory owners).
	Identity func(ctx context.Context, user string) (structs.Identity, bool, error)
	// Catalog, if set, returns the latest report on the apps' images on
	// the cluster (nil while unknown); a push carries it when it changed
	// since the hub last took it.
	Catalog func() *structs.ClusterCatalog
	// Agent, if set, is what every push says of the agent: its version and
	// the features its runtime honours (the hub records them when they
	// change and places jobs by them). A hub older than feature reports
	// refuses the field (400): the push goes again without it, and the
	// field is left out for a while (agentRefusedPause).
	Agent *structs.AgentInfo
	// Why returns the scheduler's reason a job is still pending, if it is.
	Why func(number uint64) (string, bool)
	// Heartbeat is the longest gap between status pushes.
	Heartbeat time.Duration
	// Resync is how often the full assignment listing is read again.
	Resync time.Duration
	// Wait is the long-poll duration of the assignment watch.
	Wait time.Duration
	// PageSize is the number of assignments asked per page.
	PageSize int
	// Backoff is the first delay after a failed call or a retry outcome
	// (default 100 ms); it doubles up to 5 s.
	Backoff time.Duration
	Log     *slog.Logger
	// Now is the clock (required).
	Now func() time.Time
}

// finishedJob is a job whose end the runner reported.
type finishedJob struct {
	acked   bool      // the hub answered its final report
	ackedAt time.Time // when
}

// Syncer runs the watch and report loops.
type Syncer struct {
	cfg  Config
	wake chan struct{}

	mu       sync.Mutex
	queue    []structs.JobReport    // reports the hub has not answered applied or stale, in order
	tracked  map[uint64]string      // job number → id: handed to the runner, not ended here
	finished map[uint64]finishedJob // by job number
	sentWhy  map[uint64]string      // pending reason the hub has, by job number
	machines []*structs.MachineType // of the latest assignment reply
	index    uint64                 // the watch's raft index
	// sentCatalog is the catalog report the hub last took (JSON);
	// catalogRefused when a hub last refused one as invalid.
	sentCatalog    []byte
	sentCatalogAt  time.Time
	catalogRefused time.Time
	// agentRefused is when a hub last refused the agent's report of itself.
	agentRefused time.Time
}

// New returns a Syncer.
func New(cfg Config) *Syncer {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultResync
	}
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultWait
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Syncer{cfg: cfg, wake: make(chan struct{}, 1), tracked: map[uint64]string{},
		finished: map[uint64]finishedJob{}, sentWhy: map[uint64]string{}}
}

// Index is the assignment index the watch has reached.
func (s *Syncer) Index() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index
}

// MachineTypes returns the machine types of the latest assignment reply
// (nil before the first).
func (s *Syncer) MachineTypes() []*structs.MachineType {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.machines
}

// Run runs both loops until ctx ends.
func (s *Syncer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.watchLoop(ctx) })
	wg.Go(func() { s.reportLoop(ctx) })
	wg.Wait()
}

// poke wakes the report loop.
func (s *Syncer) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
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
