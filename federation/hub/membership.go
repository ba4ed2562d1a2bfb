package hub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// DefaultJoinTimeout bounds JoinCluster in cmd/flotilla-hub: how long a
// new replica keeps asking the cluster to add it.
const DefaultJoinTimeout = 5 * time.Minute

// Replicas lists the replica directory merged with the raft configuration
// as this replica knows it, by id (implements api.Membership). The raft
// configuration is authoritative for raft addresses and suffrage; an entry
// of the directory that is not a member has suffrage "none".
func (h *Hub) Replicas(context.Context) ([]*structs.ReplicaStatus, error) {
	servers, err := h.node.Servers()
	if err != nil {
		return nil, publicError(err)
	}
	reps, err := h.store.Read().Replicas()
	if err != nil {
		return nil, err
	}
	leader, _ := h.node.Leader()
	byID := map[string]*structs.ReplicaStatus{}
	for _, r := range reps {
		byID[r.ID] = &structs.ReplicaStatus{ID: r.ID, RaftAddress: r.RaftAddress, APIAddress: r.APIAddress, Commands: r.Commands,
			Suffrage: structs.SuffrageNone}
	}
	for _, s := range servers {
		st := byID[string(s.ID)]
		if st == nil {
			st = &structs.ReplicaStatus{ID: string(s.ID)}
			byID[st.ID] = st
		}
		st.RaftAddress, st.Suffrage, st.Leader = string(s.Address), suffrage(s.Suffrage), s.ID == leader
	}
	out := make([]*structs.ReplicaStatus, 0, len(byID))
	for _, st := range byID {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b *structs.ReplicaStatus) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func suffrage(s raftnode.ServerSuffrage) string {
	switch s {
	case raftnode.Voter:
		return structs.SuffrageVoter
	case raftnode.Nonvoter:
		return structs.SuffrageNonvoter
	case raftnode.Staging:
		return structs.SuffrageStaging
	}
	return structs.SuffrageNone
}

// JoinReplica adds a replica (implements api.Membership): the leader lists it
// in the replica directory, so that every replica learns its API address,
// then adds it to the raft configuration, as a non-voter when
// req.Learner, else as a voter (promoting a non-voter). Joining again
// with the same id and raft address succeeds (a changed API address is
// recorded); an id that is a member or listed at another raft address, or
// a raft address another member has, is ErrConflict until that replica is
// removed. A follower forwards the request to the leader unless
// leaderOnly. Retries like Write.
func (h *Hub) JoinReplica(ctx context.Context, req *structs.ReplicaJoin, leaderOnly bool) (*structs.ReplicaJoined, error) {
	rep := req.Replica()
	if err := rep.Validate(); err != nil {
		return nil, err
	}
	if leaderOnly {
		out, err := h.joinLocal(ctx, rep, req.Learner)
		return out, publicError(err)
	}
	var out *structs.ReplicaJoined
	err := h.retry(ctx, func(ctx context.Context) error {
		var err error
		if h.node.IsLeader() {
			out, err = h.joinLocal(ctx, rep, req.Learner)
			return err
		}
		addr, ok := h.node.LeaderAPIAddress()
		if !ok {
			return errNoLeader
		}
		out = new(structs.ReplicaJoined)
		return h.postJSON(ctx, addr, api.InternalJoinPath, req, out, true)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// joinLocal carries out a join on the leader.
func (h *Hub) joinLocal(ctx context.Context, rep *structs.Replica, learner bool) (*structs.ReplicaJoined, error) {
	if _, err := h.node.ReadBarrier(ctx); err != nil {
		return nil, err
	}
	servers, err := h.node.Servers()
	if err != nil {
		return nil, err
	}
	var member *raftnode.Server
	for i, s := range servers {
		switch {
		case string(s.ID) == rep.ID && string(s.Address) != rep.RaftAddress:
			return nil, structs.Errorf(structs.ErrConflict,
				"replica %q is a member at raft address %s, not %s; remove it first", rep.ID, s.Address, rep.RaftAddress)
		case string(s.ID) != rep.ID && string(s.Address) == rep.RaftAddress:
			return nil, structs.Errorf(structs.ErrConflict, "raft address %s is member %q's", rep.RaftAddress, s.ID)
		case string(s.ID) == rep.ID:
			member = &servers[i]
		}
	}
	old, err := h.store.Read().Replica(rep.ID)
	switch {
	case errors.Is(err, structs.ErrNotFound):
		old = nil
	case err != nil:
		return nil, err
	case old.RaftAddress != rep.RaftAddress:
		return nil, structs.Errorf(structs.ErrConflict,
			"replica %q is listed at raft address %s, not %s; remove it first", rep.ID, old.RaftAddress, rep.RaftAddress)
	}
	index := h.store.LatestIndex()
	if !rep.Same(old) {
		b, err := fsm.Encode(&fsm.ReplicaUpsert{Replica: *rep})
		if err != nil {
			return nil, err
		}
		_, ix, err := h.applyLocal(ctx, b, time.Time{})
		if err != nil {
			return nil, err
		}
		index = ix
	}
	switch {
	case learner && member == nil:
		if err := h.node.JoinNonvoter(raftnode.ServerID(rep.ID), raftnode.ServerAddress(rep.RaftAddress)); err != nil {
			return nil, err
		}
		h.log.Info("replica joined as a non-voter", "replica", rep.ID, "raft", rep.RaftAddress, "api", rep.APIAddress)
	case !learner && (member == nil || member.Suffrage != raftnode.Voter):
		if err := h.node.Join(raftnode.ServerID(rep.ID), raftnode.ServerAddress(rep.RaftAddress)); err != nil {
			return nil, err
		}
		h.log.Info("replica joined as a voter", "replica", rep.ID, "raft", rep.RaftAddress, "api", rep.APIAddress)
	}
	return &structs.ReplicaJoined{Index: max(index, h.store.LatestIndex()), Leader: string(h.node.ID())}, nil
}

// RemoveReplica removes a replica from the raft configuration and the
// replica directory (implements api.Membership). The last voter cannot be
// removed (ErrConflict); an id that is neither a member nor listed is
// ErrNotFound. A follower forwards the request to the leader unless
// leaderOnly. Retries like Write; a retry that finds the replica gone
// after an attempt whose outcome is unknown succeeds.
func (h *Hub) RemoveReplica(ctx context.Context, id string, leaderOnly bool) error {
	if id == "" {
		return structs.Errorf(structs.ErrInvalid, "remove: replica id is required")
	}
	if leaderOnly {
		return publicError(h.removeLocal(ctx, id))
	}
	ambiguous := false
	err := h.retry(ctx, func(ctx context.Context) error {
		var err error
		if h.node.IsLeader() {
			err = h.removeLocal(ctx, id)
		} else if addr, ok := h.node.LeaderAPIAddress(); !ok {
			err = errNoLeader
		} else {
			err = h.postJSON(ctx, addr, api.InternalRemovePath, &structs.ReplicaRemove{ID: id}, nil, true)
		}
		if mayHaveApplied(err) {
			ambiguous = true
		}
		return err
	})
	if err != nil && ambiguous && errors.Is(err, structs.ErrNotFound) {
		return nil // an earlier attempt removed it
	}
	return err
}

// removeLocal carries out a removal on the leader. A member is taken out
// of the raft configuration first and out of the directory after; the
// leader removing itself does it the other way round, since it cannot
// write once it has left.
func (h *Hub) removeLocal(ctx context.Context, id string) error {
	if _, err := h.node.ReadBarrier(ctx); err != nil {
		return err
	}
	servers, err := h.node.Servers()
	if err != nil {
		return err
	}
	var member *raftnode.Server
	voters := 0
	for i, s := range servers {
		if s.Suffrage == raftnode.Voter {
			voters++
		}
		if string(s.ID) == id {
			member = &servers[i]
		}
	}
	_, err = h.store.Read().Replica(id)
	listed := err == nil
	if err != nil && !errors.Is(err, structs.ErrNotFound) {
		return err
	}
	switch {
	case member == nil && !listed:
		return structs.Errorf(structs.ErrNotFound, "replica %q is not a member of the hub cluster", id)
	case member == nil:
		return h.unlist(ctx, id)
	case member.Suffrage == raftnode.Voter && voters == 1:
		return structs.Errorf(structs.ErrConflict, "replica %q is the last voter; a hub cluster keeps at least one", id)
	}
	if member.ID == h.node.ID() {
		h.leaving.Store(true)
		if listed {
			if err := h.unlist(ctx, id); err != nil {
				h.leaving.Store(false)
				return err
			}
		}
		if err := h.node.Remove(member.ID); err != nil {
			h.leaving.Store(false)
			return err
		}
		h.log.Info("this replica left the hub cluster")
		return nil
	}
	if err := h.node.Remove(member.ID); err != nil {
		return err
	}
	h.log.Info("replica removed", "replica", id)
	if listed {
		return h.unlist(ctx, id)
	}
	return nil
}

// unlist deletes id from the replica directory; already gone is fine.
func (h *Hub) unlist(ctx context.Context, id string) error {
	if _, err := h.Write(ctx, &fsm.ReplicaDelete{ID: id}); err != nil && !errors.Is(err, structs.ErrNotFound) {
		return err
	}
	return nil
}

// JoinCluster makes this replica, started without a bootstrap
// configuration, a voter of the running cluster one of whose replicas
// serves the API at url: it asks that replica's internal join endpoint
// (which forwards to the leader) to add it as a non-voter, retrying while
// the cluster cannot be reached or has no leader until ctx ends, waits
// until it has applied the cluster's state as of its admission, then asks
// to be promoted to voter. A replica that already votes (restarted after
// joining) does not ask again; one left a non-voter finishes the join.
// A refusal (wrong internal secret, conflicting id or address) fails at
// once with the cluster's reason.
func (h *Hub) JoinCluster(ctx context.Context, url string) error {
	url = strings.TrimRight(url, "/")
	req := &structs.ReplicaJoin{ID: string(h.node.ID()), RaftAddress: string(h.node.Addr()),
		APIAddress: h.cfg.Raft.APIAddress, Commands: fsm.KnownCommands()}
	if h.cfg.InternalSecret == "" {
		return errors.New("join: an internal secret is required (the cluster's replicas share it)")
	}
	if err := req.Replica().Validate(); err != nil {
		return fmt.Errorf("join: this replica's addresses: %w", err)
	}
	if servers, err := h.node.Servers(); err == nil {
		for _, s := range servers {
			if s.ID == h.node.ID() && string(s.Address) == req.RaftAddress && s.Suffrage == raftnode.Voter {
				h.log.Info("already a voter of the hub cluster; not joining again", "via", url)
				return nil
			}
		}
	}
	// First as a non-voter: it gets the log without counting for the
	// quorum, so a replica still catching up cannot stall the cluster's
	// writes (from 1 to 2 voters every write would wait for it). Once it
	// has applied the state as of its admission, it asks to vote.
	req.Learner = true
	reply, err := h.askJoin(ctx, url, req)
	if err != nil {
		return err
	}
	h.log.Info("admitted to the hub cluster as a non-voter; catching up", "via", url, "leader", reply.Leader, "index", reply.Index)
	if err := h.node.WaitApplied(ctx, reply.Index); err != nil {
		return fmt.Errorf("join: admitted, but not caught up to index %d: %w", reply.Index, err)
	}
	req.Learner = false
	if reply, err = h.askJoin(ctx, url, req); err != nil {
		return err
	}
	if err := h.node.WaitApplied(ctx, reply.Index); err != nil {
		return fmt.Errorf("join: promoted, but not caught up to index %d: %w", reply.Index, err)
	}
	h.log.Info("joined the hub cluster", "leader", reply.Leader, "index", reply.Index)
	return nil
}

// askJoin posts req to the join endpoint at url, retrying while the
// cluster cannot be reached or has no leader.
func (h *Hub) askJoin(ctx context.Context, url string, req *structs.ReplicaJoin) (*structs.ReplicaJoined, error) {
	backoff := h.cfg.RetryBackoffMin
	for {
		var reply structs.ReplicaJoined
		err := h.postJSON(ctx, url, api.InternalJoinPath, req, &reply, false)
		if err == nil {
			return &reply, nil
		}
		if !retryable(err) {
			return nil, fmt.Errorf("join via %s: refused: %w", url, err)
		}
		h.log.Debug("join: cluster not ready", "via", url, "error", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("join via %s: giving up: %w (last error: %v)", url, ctx.Err(), err)
		case <-h.stopped:
			t.Stop()
			return nil, errors.New("join: replica shutting down")
		case <-t.C:
		}
		backoff = min(2*backoff, h.cfg.RetryBackoffMax*4)
	}
}
