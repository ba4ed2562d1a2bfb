package hub

import (
	"context"
	"errors"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Backoff of a failed attempt to list this replica in the directory.
const (
	selfEntryRetryMin = 100 * time.Millisecond
	selfEntryRetryMax = 10 * time.Second
)

// runReplicaDirectory runs while the replica is up. It watches the replica
// directory (a blocking query on its table) and feeds every entry's API
// address to the raft node's peer registry, so that writes are forwarded
// to a leader the static configuration does not know (a joined replica);
// an entry deleted from the directory falls back to the configured
// address, if any. Alongside, it makes sure the directory lists this
// replica, as long as it is a member of the raft configuration.
func (h *Hub) runReplicaDirectory() {
	defer close(h.replDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-h.stopped:
			cancel()
		case <-ctx.Done():
		}
	}()
	changed := make(chan struct{}, 1)
	selfDone := make(chan struct{})
	go func() {
		defer close(selfDone)
		h.keepSelfListed(ctx, changed)
	}()
	defer func() { <-selfDone }()

	applied := map[raftnode.ServerID]string{} // API addresses set from the directory
	var index uint64
	for {
		txn := h.store.Read()
		index = txn.Index(state.TableReplicas)
		reps, err := txn.Replicas()
		if err != nil {
			h.log.Error("reading the replica directory", "error", err)
		} else {
			h.applyPeers(reps, applied)
		}
		select {
		case changed <- struct{}{}:
		default:
		}
		if _, err := h.store.WaitForIndex(ctx, state.TableReplicas, index); err != nil {
			if ctx.Err() != nil {
				return
			}
			h.log.Error("watching the replica directory", "error", err)
			return
		}
	}
}

// applyPeers sets the raft node's peer registry from the directory reps.
// applied holds what earlier calls set; ids no longer listed get their
// configured address back (none: forgotten).
func (h *Hub) applyPeers(reps []*structs.Replica, applied map[raftnode.ServerID]string) {
	self := h.node.ID()
	listed := make(map[raftnode.ServerID]bool, len(reps))
	for _, r := range reps {
		id := raftnode.ServerID(r.ID)
		if id == self {
			continue // this replica's own address is its configuration's
		}
		listed[id] = true
		if old, ok := applied[id]; !ok || old != r.APIAddress {
			h.node.SetPeerAPI(id, r.APIAddress)
			applied[id] = r.APIAddress
			h.log.Debug("peer API address from the replica directory", "peer", r.ID, "api", r.APIAddress)
		}
	}
	for id := range applied {
		if !listed[id] {
			h.node.SetPeerAPI(id, h.staticPeers[id])
			delete(applied, id)
		}
	}
}

// keepSelfListed writes this replica's directory entry whenever it is
// missing or out of date while the replica is a member of the raft
// configuration and a leader is known; it looks again on every directory
// change (changed) and leadership change, and retries failed writes with
// backoff.
func (h *Hub) keepSelfListed(ctx context.Context, changed <-chan struct{}) {
	events, stopEvents := h.node.WatchLeadership()
	defer stopEvents()
	var retry <-chan time.Time
	backoff := selfEntryRetryMin
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-retry:
			retry = nil
		}
		if retry != nil || h.Leader() == "" {
			continue
		}
		want, err := h.selfEntry()
		if err != nil {
			if !warned {
				h.log.Warn("this replica cannot be listed in the replica directory", "error", err)
				warned = true
			}
			continue
		}
		if want == nil {
			backoff = selfEntryRetryMin
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, h.cfg.WriteTimeout)
		// This replica may lag: a joined one learns it is a member before
		// it applies the entry the leader wrote for it. Look again with a
		// current view before writing.
		if err = h.ConsistentRead(wctx); err == nil {
			if want, err = h.selfEntry(); err == nil && want != nil {
				_, err = h.Write(wctx, &fsm.ReplicaUpsert{Replica: *want})
			}
		}
		cancel()
		if err == nil && want == nil {
			backoff = selfEntryRetryMin
			continue
		}
		if err == nil {
			h.log.Info("listed in the replica directory", "raft", want.RaftAddress, "api", want.APIAddress)
			backoff = selfEntryRetryMin
			continue
		}
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("listing this replica in the replica directory", "error", err, "retry_in", backoff)
		retry = time.After(backoff)
		backoff = min(2*backoff, selfEntryRetryMax)
	}
}

// selfEntry returns the directory entry this replica should have, or nil
// when there is nothing to write: the entry is current, the replica is not
// (or no longer) a member of the raft configuration, or it is removing
// itself. An entry that would not validate is an error.
func (h *Hub) selfEntry() (*structs.Replica, error) {
	if h.leaving.Load() {
		return nil, nil
	}
	servers, err := h.node.Servers()
	if err != nil {
		return nil, nil // shutting down
	}
	self := h.node.ID()
	for _, s := range servers {
		if s.ID != self {
			continue
		}
		want := &structs.Replica{ID: string(self), RaftAddress: string(s.Address), APIAddress: h.cfg.Raft.APIAddress,
			Commands: fsm.KnownCommands()}
		if want.APIAddress == "" {
			return nil, errors.New("no API address configured (raftnode.Config.APIAddress)")
		}
		if err := want.Validate(); err != nil {
			return nil, err
		}
		if cur, err := h.store.Read().Replica(want.ID); err == nil && cur.Same(want) {
			return nil, nil
		}
		return want, nil
	}
	return nil, nil
}
