package raftnode

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// restoreTerm is the term of a restored snapshot; the first election of
// the new cluster moves past it.
const restoreTerm = 1

// RestoreSnapshot prepares cfg.DataDir, which must hold no raft state, as
// a replica of a new cluster whose voters are cfg.BootstrapPeers and whose
// state machine starts from data (what the StateMachine's Restore reads)
// at raft index. It writes one snapshot, a no-op log entry at index (the
// snapshot's term) and the current term, nothing else: a node started on the directory afterwards restores the snapshot,
// finds its configuration in it and elects a leader with the other
// replicas prepared the same way; its log continues after index. Every
// replica of the new cluster is prepared with the same data, index and
// peers.
func RestoreSnapshot(cfg Config, index uint64, data io.Reader, logger hclog.Logger) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if cfg.InMemory {
		return fmt.Errorf("raftnode: restore: needs a data directory")
	}
	if len(cfg.BootstrapPeers) == 0 {
		return fmt.Errorf("raftnode: restore: no voters given (bootstrap peers)")
	}
	if index == 0 {
		return fmt.Errorf("raftnode: restore: index 0")
	}
	member := false
	for _, s := range cfg.BootstrapPeers {
		member = member || s.ID == cfg.ID
	}
	if !member {
		return fmt.Errorf("raftnode: restore: replica %q is not one of the voters", cfg.ID)
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	// Refuse a directory that holds anything before opening stores in it
	// (opening alone touches files).
	if entries, err := os.ReadDir(cfg.DataDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%w in %s: restore into an empty data directory", ErrExistingState, cfg.DataDir)
	} else if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("raftnode: restore: %w", err)
	}
	st, err := openStores(cfg, logger)
	if err != nil {
		return err
	}
	defer st.closeFn()
	existing, err := raft.HasExistingState(st.logs, st.stable, st.snaps)
	if err != nil {
		return storeError(cfg, st.kind, "read", err)
	}
	if existing {
		return fmt.Errorf("%w in %s: restore into an empty data directory", ErrExistingState, cfg.DataDir)
	}
	conf := raft.Configuration{Servers: cfg.BootstrapPeers}
	// The snapshot store encodes the (legacy) peer list through a
	// transport; any transport encodes an address as itself.
	_, peers := raft.NewInmemTransport("")
	defer peers.Close()
	sink, err := st.snaps.Create(raft.SnapshotVersionMax, index, restoreTerm, conf, index, peers)
	if err != nil {
		return fmt.Errorf("raftnode: restore: %w", err)
	}
	if _, err := io.Copy(sink, data); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("raftnode: restore: writing the snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("raftnode: restore: %w", err)
	}
	// The log holds the snapshot's own index, so a follower can always
	// match a leader's first append (previous entry = index) from its log.
	// With an empty log, a follower that had taken an entry from a leader
	// deposed before it committed cannot check that previous entry; the
	// new leader then sends it the snapshot, and raft (v1.8) installing a
	// snapshot on a monotonic log store (raft-wal) empties the log without
	// resetting its idea of the last entry: the next append leaves a hole
	// and the replica panics with "log not found" when it applies.
	// (snapLog now keeps raft off that path for every install and answers
	// for the snapshot's index itself; the entry stays, so a directory
	// restored by this binary also suits an older one.)
	noop := &raft.Log{Index: index, Term: restoreTerm, Type: raft.LogNoop}
	if err := st.logs.StoreLog(noop); err != nil {
		return storeError(cfg, st.kind, "write the snapshot's log entry", err)
	}
	if err := st.stable.SetUint64(keyCurrentTerm, restoreTerm); err != nil {
		return storeError(cfg, st.kind, "write current term", err)
	}
	return nil
}

// LastSnapshot returns the index and the time of the newest snapshot in
// the node's snapshot store; ok is false when there is none (or the
// store does not record times, as the in-memory one).
func (n *Node) LastSnapshot() (index uint64, at time.Time, ok bool) {
	metas, err := n.st.snaps.List()
	if err != nil || len(metas) == 0 {
		return 0, time.Time{}, false
	}
	// File snapshot IDs are term-index-milliseconds since the epoch.
	parts := strings.Split(metas[0].ID, "-")
	ms, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
	if len(parts) != 3 || err != nil {
		return metas[0].Index, time.Time{}, false
	}
	return metas[0].Index, time.UnixMilli(ms), true
}

// Term is the node's current raft term.
func (n *Node) Term() uint64 { return n.raft.CurrentTerm() }
