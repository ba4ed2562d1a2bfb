// Package dispatch is the hub leader's placement loop: whenever jobs,
// clusters or policy change it reads one consistent snapshot of the state,
// runs the pure placement (and limit release, and the requeue of
// assignments no agent accepted in time), and commits the decisions through
// raft. Every decision is recorded in the job (cluster, rule, substatus), so
// "why" is answered from state; only the leader dispatches. Every decision
// carries the job's modify index as the pass read it (structs.CAS): a
// decision computed on an older state — a deposed leader's pass forwarded
// to the new leader, or a pass a cancel or an agent's report overtook —
// is refused in Apply, and the newer state stands.
package dispatch

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/placement"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/limits"
)

// Writer commits commands through raft (federation/hub.Hub).
type Writer interface {
	Write(ctx context.Context, cmd fsm.Command) (any, error)
}

// Config wires a Dispatcher.
type Config struct {
	Store  *state.Store
	Writer Writer
	// Leader reports whether this replica leads; only the leader dispatches.
	Leader func() bool
	Now    func() time.Time
	Log    *slog.Logger
	// Placement options (fair share, backfill, heartbeat timeout).
	Options placement.Options
	// AcceptTimeout returns an assignment no agent took up to the queue.
	AcceptTimeout time.Duration
	// Interval is the longest gap between passes (time-based rules such as
	// "burst after 5 s" need passes without state changes; default 1 s).
	Interval time.Duration
	// Parallel bounds concurrent writes of one pass (default 64).
	Parallel int
	// ReasonEvery is the shortest gap between two reason-only updates of
	// one waiting job (reasons such as "waited 3s of 5s" change every pass;
	// each update is a raft write). Default 5 s; negative means no limit.
	ReasonEvery time.Duration
	// Observe, if set, is told of every pass after it committed (metrics).
	Observe func(PassReport)
}

// PassReport is what one pass decided, for metrics.
type PassReport struct {
	// Took is the pass's duration: snapshot, placement and commit.
	Took time.Duration
	// Assigned are the assignments the pass wrote.
	Assigned []Assigned
	// HeldByLimit counts the jobs the pass found held, by holding limit.
	HeldByLimit map[string]int
}

// Assigned is one assignment of a pass.
type Assigned struct {
	MachineType, Cluster, BurstRule string
	// Waited is how long the job waited since its submission.
	Waited time.Duration
}

// Dispatcher runs placement passes.
type Dispatcher struct {
	cfg Config
	mu  sync.Mutex
	n   Stats
	// reasonAt is when each waiting job's reason was last written; only
	// Pass touches it (one pass at a time).
	reasonAt map[string]time.Time
}

// Stats counts what the dispatcher committed.
type Stats struct {
	Passes, Assigned, Held, Released, Requeued, Reasons uint64
	// DependencyEnded counts jobs ended because their dependency can
	// never hold.
	DependencyEnded uint64
}

// New returns a Dispatcher.
func New(cfg Config) *Dispatcher {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Parallel == 0 {
		cfg.Parallel = 64
	}
	if cfg.ReasonEvery == 0 {
		cfg.ReasonEvery = 5 * time.Second
	}
	return &Dispatcher{cfg: cfg, reasonAt: map[string]time.Time{}}
}

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// Run dispatches until ctx ends: a pass after every change of the jobs,
// clusters or policy tables, and at least every Interval.
func (d *Dispatcher) Run(ctx context.Context) {
	var seen uint64
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, d.cfg.Interval)
		idx, _ := d.cfg.Store.WaitForIndex(wctx, state.AllTables, seen)
		cancel()
		if idx > seen {
			seen = idx
		}
		if !d.cfg.Leader() {
			continue
		}
		if err := d.Pass(ctx); err != nil && ctx.Err() == nil {
			d.cfg.Log.Warn("dispatch pass", "err", err)
		}
	}
}

// Pass runs one placement pass and commits its decisions.
func (d *Dispatcher) Pass(ctx context.Context) error {
	now := d.cfg.Now()
	in, depIn, err := d.input(now)
	if err != nil {
		return err
	}
	plan := placement.Place(in)
	deps := placement.Dependencies(depIn)
	byID := make(map[string]*structs.Job, len(in.Jobs))
	for _, j := range in.Jobs {
		byID[j.ID] = j
	}
	var cmds []decision
	var st Stats
	st.Passes = 1
	// Every decision carries the job's modify index as this pass read it:
	// if the job changed since (a newer pass, a cancel, an agent's report),
	// the state machine refuses the decision and the newer state stands.
	read := func(id string) structs.CAS {
		if j := byID[id]; j != nil {
			return structs.CAS{ExpectModifyIndex: j.ModifyIndex}
		}
		return structs.CAS{ExpectAbsent: true} // unknown to this pass: refused
	}
	for _, a := range plan.Assignments {
		cmds = append(cmds, decision{&fsm.JobAssignment{ID: a.JobID, Cluster: a.Cluster, Time: now, MachineType: burstOnly(byID[a.JobID], a),
			BurstRule: a.BurstRule, Reason: a.Reason, CAS: read(a.JobID)}, d.jobLog(byID, a.JobID), slog.LevelInfo, "job assigned",
			[]any{"cluster", a.Cluster, "machine_type", a.MachineType, "burst_rule", a.BurstRule, "reason", a.Reason}})
		st.Assigned++
	}
	for _, h := range plan.Held {
		j := byID[h.JobID]
		why := heldReason(h.Limit, h.Reason)
		if j != nil && (j.State != structs.JobHeld || j.Substatus != why) {
			level := slog.LevelInfo
			if j.State == structs.JobHeld {
				level = slog.LevelDebug // held still, for a new reason
			}
			cmds = append(cmds, decision{&fsm.JobStateUpdate{ID: h.JobID, State: structs.JobHeld, Substatus: why, Time: now, CAS: read(h.JobID)},
				d.jobLog(byID, h.JobID), level, "job held", []any{"limit", h.Limit, "reason", why}})
			st.Held++
		}
	}
	seen := make(map[string]time.Time, len(plan.Pending))
	for _, p := range plan.Pending {
		j := byID[p.JobID]
		if j == nil || j.State.IsTerminal() {
			continue
		}
		last, written := d.reasonAt[p.JobID]
		if written {
			seen[p.JobID] = last
		}
		if j.Substatus == p.Reason || (written && d.cfg.ReasonEvery > 0 && now.Sub(last) < d.cfg.ReasonEvery) {
			continue
		}
		cmds = append(cmds, decision{&fsm.JobStateUpdate{ID: p.JobID, State: j.State, Substatus: p.Reason, Time: now, CAS: read(p.JobID)},
			d.jobLog(byID, p.JobID), slog.LevelDebug, "job waits", []any{"reason", p.Reason}})
		seen[p.JobID] = now
		st.Reasons++
	}
	d.reasonAt = seen // forget jobs no longer waiting
	for _, r := range deps.Released {
		cmds = append(cmds, decision{&fsm.JobStateUpdate{ID: r.JobID, State: structs.JobQueued, Substatus: r.Reason,
			Time: now, CAS: read(r.JobID)}, d.jobLog(byID, r.JobID), slog.LevelInfo, "job released: its dependency holds", []any{"reason", r.Reason}})
		st.Released++
	}
	for _, w := range deps.Waiting {
		cmds = append(cmds, decision{&fsm.JobStateUpdate{ID: w.JobID, State: structs.JobHeld, Substatus: w.Reason,
			Time: now, CAS: read(w.JobID)}, d.jobLog(byID, w.JobID), slog.LevelDebug, "job waits for its dependency", []any{"reason", w.Reason}})
		st.Reasons++
	}
	for _, e := range deps.Ended {
		// No precondition is needed: a dependency that can never hold
		// never will, whatever changed since this pass read the job.
		cmds = append(cmds, decision{&fsm.JobCancel{ID: e.JobID, Reason: e.Reason, Time: now, Account: true},
			d.jobLog(byID, e.JobID), slog.LevelInfo, "job ended: its dependency can never hold", []any{"reason", e.Reason}})
		st.DependencyEnded++
	}
	rel := d.release(in)
	for _, id := range rel.Released {
		cmds = append(cmds, decision{&fsm.JobStateUpdate{ID: id, State: structs.JobQueued, Substatus: "released: under its limits again",
			Time: now, CAS: read(id)}, d.jobLog(byID, id), slog.LevelInfo, "job released: under its limits again", nil})
		st.Released++
	}
	if d.cfg.AcceptTimeout > 0 {
		for _, r := range placement.ExpiredAssignments(in.Jobs, now, d.cfg.AcceptTimeout) {
			cmds = append(cmds, decision{&fsm.JobStateUpdate{ID: r.JobID, State: structs.JobQueued, Substatus: r.Reason, Time: now,
				CAS: read(r.JobID)}, d.jobLog(byID, r.JobID), slog.LevelInfo, "job back to the queue", []any{"reason", r.Reason}})
			st.Requeued++
		}
	}
	err = d.commit(ctx, cmds)
	if d.cfg.Observe != nil {
		rep := PassReport{Took: d.cfg.Now().Sub(now), HeldByLimit: map[string]int{}}
		for _, a := range plan.Assignments {
			if j := byID[a.JobID]; j != nil {
				rep.Assigned = append(rep.Assigned, Assigned{MachineType: a.MachineType, Cluster: a.Cluster,
					BurstRule: a.BurstRule, Waited: now.Sub(j.SubmitTime)})
			}
		}
		for _, h := range plan.Held {
			rep.HeldByLimit[h.Limit]++
		}
		d.cfg.Observe(rep)
	}
	d.mu.Lock()
	d.n.Passes += st.Passes
	d.n.Assigned += st.Assigned
	d.n.Held += st.Held
	d.n.Released += st.Released
	d.n.Requeued += st.Requeued
	d.n.Reasons += st.Reasons
	d.n.DependencyEnded += st.DependencyEnded
	d.mu.Unlock()
	return err
}

// heldReason names the limit that holds a job, then says why.
func heldReason(limit, reason string) string {
	if limit == "" {
		return "held: " + reason
	}
	return "held by limit " + limit + ": " + reason
}

// HeldLimit is the limit a held job's substatus names ("" when it names
// none): the inverse of the reason a pass writes when a limit holds a job.
func HeldLimit(substatus string) string {
	rest, ok := strings.CutPrefix(substatus, "held by limit ")
	if !ok {
		return ""
	}
	name, _, ok := strings.Cut(rest, ": ")
	if !ok {
		return ""
	}
	return name
}

// burstOnly records the machine type only when a burst rule changed it.
func burstOnly(j *structs.Job, a placement.Assignment) string {
	if j != nil && a.MachineType == j.MachineType {
		return ""
	}
	return a.MachineType
}

// release re-evaluates held jobs against limits and current usage; jobs
// held for their dependency are the dependency check's.
func (d *Dispatcher) release(in placement.Input) limits.Released {
	mts := make(map[string]*structs.MachineType, len(in.MachineTypes))
	for _, m := range in.MachineTypes {
		mts[m.Name] = m
	}
	var active []*structs.Job
	for _, j := range in.Jobs {
		if limits.Active(j.State) {
			active = append(active, j)
		}
	}
	jobs := in.Jobs
	if slices.ContainsFunc(jobs, (*structs.Job).WaitsForDependency) {
		jobs = slices.DeleteFunc(slices.Clone(jobs), (*structs.Job).WaitsForDependency)
	}
	return limits.Release(jobs, mts, limits.NewUsage(active, mts), in.Limits)
}

// decision is one command of a pass, with its job's log attributes and the
// line that says what it did once written. The attributes are formatted
// only when a line is logged at an enabled level: a pass's many "waits"
// decisions cost no formatting at Info.
type decision struct {
	cmd   fsm.Command
	job   []any // the job's structs.Job.LogAttrs
	level slog.Level
	msg   string
	args  []any
}

// log writes a line about the decision's job at level.
func (d *Dispatcher) log(ctx context.Context, c decision, level slog.Level, msg string, args ...any) {
	if !d.cfg.Log.Enabled(ctx, level) {
		return
	}
	d.cfg.Log.Log(ctx, level, msg, append(append([]any{}, c.job...), args...)...)
}

// jobLog is the log attributes of the job with id (its structs.Job.LogAttrs
// when the pass read it).
func (d *Dispatcher) jobLog(byID map[string]*structs.Job, id string) []any {
	if j := byID[id]; j != nil {
		return j.LogAttrs()
	}
	return []any{structs.LogJob, id}
}

// commit writes the commands with bounded parallelism; the raft layer packs
// concurrent writes into few log entries. A command refused by the FSM (the
// job changed since the pass read it) is skipped: the next pass sees the
// new state.
func (d *Dispatcher) commit(ctx context.Context, cmds []decision) error {
	sem := make(chan struct{}, d.cfg.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, c := range cmds {
		sem <- struct{}{}
		wg.Add(1)
		go func(c decision) {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := d.cfg.Writer.Write(ctx, c.cmd); err != nil {
				if structs.KindOf(err) == structs.ErrConflict || structs.KindOf(err) == structs.ErrNotFound || structs.KindOf(err) == structs.ErrInvalid {
					d.log(ctx, c, slog.LevelDebug, "dispatch decision refused", "decision", c.msg, "err", err)
					return
				}
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				return
			}
			d.log(ctx, c, c.level, c.msg, c.args...)
		}(c)
	}
	wg.Wait()
	return firstErr
}
