package hub

import (
	"context"
	"errors"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// errNoLeader means no leader is known right now (an election is running).
var errNoLeader = errors.New("hub: no leader known")

// Write logs cmd through raft and returns the command's result (see the
// fsm command types). On a follower the write is forwarded to the leader.
// Transient failures (no leader, leader change, lost leadership) are
// retried until Config.WriteTimeout; if the hub still cannot write, the
// error is structs.ErrUnavailable. Errors of the state machine (invalid,
// not found, conflict...) are returned as they are.
//
// A job submission or cancel made for an audited API call whose request
// context carries the call's pending audit event (api.PendingAuditOf) is
// logged with that event in one entry (fsm.JobAudited), once every replica
// applies that command.
//
// A job state update goes in its binary form (fsm.JobStateUpdateBin),
// the same command, once every replica applies that.
//
// A command type added since replicas list what they apply (fsm.Gated) is
// refused with ErrConflict until every replica in the directory lists it:
// a replica on an older binary would skip it (see allApply).
func (h *Hub) Write(ctx context.Context, cmd fsm.Command) (any, error) {
	cmd = h.logged(ctx, cmd)
	if t := fsm.TypeOf(cmd); fsm.Gated(t) && !h.allApply(t) {
		return nil, structs.Errorf(structs.ErrConflict,
			"not every hub replica runs a release that applies %s yet (a rolling upgrade is under way): retry once all of them do", t)
	}
	b, err := fsm.Encode(cmd)
	if err != nil {
		return nil, err
	}
	val, _, err := h.write(ctx, b)
	return val, err
}

// logged is cmd as Write logs it: with the call's pending audit event,
// or in the binary form of a state update, where every replica applies
// those.
func (h *Hub) logged(ctx context.Context, cmd fsm.Command) fsm.Command {
	if pa := api.PendingAuditOf(ctx); pa != nil && foldsAudit(cmd) && h.allApply(jobAudited) && pa.Take() {
		return &fsm.JobAudited{Job: cmd, Event: pa.Event}
	}
	if u, ok := cmd.(*fsm.JobStateUpdate); ok && h.allApply(stateUpdateBin) {
		return (*fsm.JobStateUpdateBin)(u)
	}
	return cmd
}

// write applies an encoded command with retries and returns its result and
// the index of the log entry that carried it.
func (h *Hub) write(ctx context.Context, b []byte) (val any, index uint64, err error) {
	ambiguous := false
	err = h.retryBy(ctx, func(ctx context.Context, deadline time.Time) error {
		var e error
		val, index, e = h.attempt(ctx, b, deadline)
		if mayHaveApplied(e) {
			ambiguous = true
		}
		return e
	})
	if err != nil && ambiguous && isDelete(b) && errors.Is(err, structs.ErrNotFound) {
		// An earlier attempt deleted it.
		return nil, index, nil
	}
	return val, index, err
}

// attempt applies b once, giving up at deadline: locally on the leader
// (raftnode's deadline, no timer of its own), else through the leader's
// internal endpoint (an HTTP call, bounded by a context): with the
// other writes of its batch call in one call when the call has a write
// group (api.WriteGroup), else on its own.
func (h *Hub) attempt(ctx context.Context, b []byte, deadline time.Time) (any, uint64, error) {
	if h.node.IsLeader() {
		return h.applyLocal(ctx, b, deadline)
	}
	addr, ok := h.node.LeaderAPIAddress()
	if !ok {
		return nil, 0, errNoLeader
	}
	var val any
	var index uint64
	var err error
	if g := api.WriteGroupOf(ctx); g != nil {
		val, index, err = h.forwardGrouped(ctx, g, addr, b, deadline)
	} else {
		fctx, cancel := context.WithDeadline(ctx, deadline)
		val, index, err = h.forwardApply(fctx, addr, b)
		cancel()
		h.waitForwarded(ctx, index)
	}
	if err == nil && fsm.CommandType(b[1]) == jobAudited {
		if pa := api.PendingAuditOf(ctx); pa != nil {
			pa.Recorded() // the leader's entry stored the event (or an earlier attempt's did)
		}
	}
	return val, index, err
}

// applyLocal applies b through this node's raft and makes the outcome of
// repeated commands the outcome of the first (see resolve). Raft errors
// are raftnode's. A zero deadline means none (ctx alone bounds the wait).
func (h *Hub) applyLocal(ctx context.Context, b []byte, deadline time.Time) (any, uint64, error) {
	var val any
	var index uint64
	var err error
	if deadline.IsZero() {
		val, index, err = h.node.Apply(ctx, b)
	} else {
		val, index, err = h.node.ApplyBy(ctx, b, deadline)
	}
	if err == nil && fsm.CommandType(b[1]) == jobAudited {
		if pa := api.PendingAuditOf(ctx); pa != nil {
			pa.Recorded() // the entry stored the event (or an earlier attempt did)
		}
	}
	if err != nil && index > 0 {
		val, err = h.resolve(b, err)
	}
	return val, index, err
}

// ApplyInternal applies an encoded command on this replica, which must be
// the leader; it serves the internal endpoint (implements api.Internal).
// Raft errors become structs.ErrNotLeader (nothing written) or
// structs.ErrUnavailable (outcome unknown).
func (h *Hub) ApplyInternal(ctx context.Context, b []byte) (any, uint64, error) {
	if len(b) < 2 || b[0] != fsm.Version {
		return nil, 0, structs.Errorf(structs.ErrInvalid, "apply: not an encoded command")
	}
	// Only commands this replica can decode enter the log: a malformed or
	// unknown one would be refused by every replica anyway, and one from a
	// newer version must wait until the cluster runs it.
	if _, err := fsm.Decode(b); err != nil {
		return nil, 0, err
	}
	val, index, err := h.applyLocal(ctx, b, time.Time{})
	if err != nil && index == 0 {
		err = publicError(err)
	}
	return val, index, err
}

// resolve turns the state machine's refusal of a repeated command into the
// result of the original: a job submitted twice is the stored job; a job
// cancelled twice, or cancelled after it ended, or finished and reported
// twice, is the job as it stands.
// The leader has applied the entry when Apply returns, so its store holds
// what the entry saw.
func (h *Hub) resolve(b []byte, err error) (any, error) {
	cmd, derr := fsm.Decode(b)
	if derr != nil {
		return nil, err
	}
	if a, ok := cmd.(*fsm.JobAudited); ok {
		cmd = a.Job
	}
	switch x := cmd.(type) {
	case *fsm.JobSubmitExt:
		cmd = (*fsm.JobSubmit)(x) // resolved alike
	case *fsm.JobSubmitArrayList:
		cmd = (*fsm.JobSubmit)(x)
	case *fsm.JobStateUpdateBin:
		cmd = (*fsm.JobStateUpdate)(x)
	}
	switch c := cmd.(type) {
	case *fsm.JobSubmit:
		if !errors.Is(err, structs.ErrConflict) {
			return nil, err
		}
		if j, gerr := h.store.Read().Job(c.Job.ID); gerr == nil {
			return j, nil
		}
	case *fsm.JobCancel, *fsm.JobStateUpdate:
		var te *structs.TransitionError
		if !errors.As(err, &te) {
			return nil, err
		}
		done := te.From == te.To
		if _, cancel := c.(*fsm.JobCancel); cancel {
			// A job that already ended, however, is returned as it is.
			done = te.From.IsTerminal()
		}
		if j, gerr := h.store.Read().Job(te.JobID); done && gerr == nil {
			return j, nil
		}
	}
	return nil, err
}

// foldsAudit reports whether cmd may carry an audit event (fsm.JobAudited).
func foldsAudit(cmd fsm.Command) bool {
	switch cmd.(type) {
	case *fsm.JobSubmit, *fsm.JobCancel:
		return true
	}
	return false
}

var (
	jobAudited     = fsm.TypeOf(&fsm.JobAudited{})
	stateUpdateBin = fsm.TypeOf(&fsm.JobStateUpdateBin{})
)

// allApply reports whether every replica in the directory lists command
// type t as one its binary applies. With none listed yet (a hub starting)
// only this binary's view counts. The answer holds until the directory
// changes: it is kept with the replicas table's modify index (every
// audited submission asks; listing the directory each time was 4 % of a
// submission's allocations).
func (h *Hub) allApply(t fsm.CommandType) bool {
	if !fsm.Gated(t) {
		return true
	}
	// The replicas table's change counter, read before the view (see
	// state.Store.Changes): an atomic load per call where a read of its
	// modify index cost a transaction and a lookup.
	index := h.store.Changes(state.TableReplicas)
	old := h.gates.Load()
	if old != nil && old.index == index {
		if ok, known := old.applies[t]; known {
			return ok
		}
	}
	reps, err := h.store.Read().Replicas()
	if err != nil {
		return false
	}
	ok := fsm.EveryReplicaApplies(reps, t)
	v := &gateView{index: index, applies: map[fsm.CommandType]bool{t: ok}}
	if old != nil && old.index == index {
		for k, a := range old.applies {
			v.applies[k] = a
		}
		v.applies[t] = ok
	}
	h.gates.Store(v)
	return ok
}

// gateView is allApply's answers at one value of the replicas table's
// change counter; never changed once stored.
type gateView struct {
	index   uint64
	applies map[fsm.CommandType]bool
}

func isDelete(b []byte) bool { return fsm.CommandType(b[1]).IsDelete() }

// retry runs op until it succeeds or fails for good, backing off between
// transient failures, for at most Config.WriteTimeout; op's context ends
// then.
func (h *Hub) retry(ctx context.Context, op func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.WriteTimeout)
	defer cancel()
	return h.retryBy(ctx, func(ctx context.Context, _ time.Time) error { return op(ctx) })
}

// retryBy is retry for an op that keeps the deadline itself (it is
// given it): the budget costs no timer context per call. Between
// attempts the deadline is checked and the backoff ends at it; ctx still
// stops the retries at once.
func (h *Hub) retryBy(ctx context.Context, op func(context.Context, time.Time) error) error {
	deadline := h.wall().Add(h.cfg.WriteTimeout)
	backoff := h.cfg.RetryBackoffMin
	for {
		err := op(ctx, deadline)
		if err == nil || !retryable(err) {
			return publicError(err)
		}
		left := deadline.Sub(h.wall())
		if ctx.Err() != nil || left <= 0 {
			return structs.Errorf(structs.ErrUnavailable, "no leader reachable: %v", err)
		}
		t := time.NewTimer(min(backoff, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return structs.Errorf(structs.ErrUnavailable, "no leader reachable: %v", err)
		case <-h.stopped:
			t.Stop()
			return structs.Errorf(structs.ErrUnavailable, "replica shutting down")
		case <-t.C:
		}
		backoff = min(2*backoff, h.cfg.RetryBackoffMax)
	}
}

// retryable reports whether err is transient: another attempt, possibly
// on another leader, may succeed.
func retryable(err error) bool {
	var fe *forwardError
	return raftnode.Retryable(err) || errors.Is(err, errNoLeader) || errors.As(err, &fe)
}

// mayHaveApplied reports whether a failed attempt may still have been
// committed.
func mayHaveApplied(err error) bool {
	if err == nil {
		return false
	}
	var fe *forwardError
	if errors.As(err, &fe) {
		return fe.ambiguous
	}
	return errors.Is(err, raftnode.ErrLeadershipLost) || errors.Is(err, raftnode.ErrShutdown) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// publicError gives raft-level errors a structs kind for the API.
func publicError(err error) error {
	switch {
	case err == nil || structs.KindOf(err) != nil:
		return err
	case errors.Is(err, raftnode.ErrNotLeader):
		return structs.Errorf(structs.ErrNotLeader, "%v", err)
	case errors.Is(err, raftnode.ErrLeadershipLost), errors.Is(err, raftnode.ErrEnqueueTimeout),
		errors.Is(err, raftnode.ErrShutdown), errors.Is(err, errNoLeader),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return structs.Errorf(structs.ErrUnavailable, "%v", err)
	}
	var fe *forwardError
	if errors.As(err, &fe) {
		return structs.Errorf(structs.ErrUnavailable, "%v", err)
	}
	return err
}
