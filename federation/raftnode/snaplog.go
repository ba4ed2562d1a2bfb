package raftnode

import (
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// snapLog is the log store raft runs on: the node's LogCache, kept
// consistent with the newest snapshot so that a follower whose log runs
// past a snapshot the leader sends it still catches up.
//
// hashicorp/raft v1.8.0, installing a leader's snapshot at index S on a
// follower whose log ends at L > S (a deposed leader's uncommitted tail,
// or a follower that took entries from one), leaves the follower unable
// to accept the leader's next append, whose previous entry is S: raft
// checks it against the log (appendEntries: GetLog(S), since its last
// entry is L, not S), and the entry at S is gone (compacted) or is the
// tail's own. The leader walks back below its log and sends the snapshot
// again, in a loop that ends only when the leader snapshots past L. On a
// MonotonicLogStore (raft-wal) it is worse: raft empties the log
// (removeOldLogs) but keeps L as its last entry, so a later leader holding
// the entry at L would append after it, leaving a hole the follower
// panics on ("log not found").
//
// snapLog does what the Raft paper's InstallSnapshot does and raft's code
// leaves out. When the state machine has restored a snapshot (at start or
// on InstallSnapshot) whose last entry the log does not hold with the
// same term, it deletes the log up to the snapshot's index; entries after
// it stay (raft still counts them, and replaces the conflicting ones on
// the next append). A log that holds nothing up to the newest snapshot's
// index answers for that index with a no-op entry of the snapshot's term,
// the entry RestoreSnapshot writes, so the leader's previous entry at the
// snapshot's index matches. It does not implement MonotonicLogStore, so
// raft never empties the log behind its own last-entry mark; an append
// past the log's end that the snapshot covers (raft-wal cannot hold the
// gap) first drops the log, which the snapshot covers.
//
// Why this keeps replicas identical: a snapshot holds only committed
// entries, so its last entry (index S, term T) is in every future
// leader's log. Deleting a follower's entries up to S loses nothing the
// state machine does not hold already. A follower whose entry at S had
// another term keeps entries after S that no future leader can hold (a
// leader with one of them would hold the follower's entry at S too), so
// raft's check of the previous entry never accepts an append after them;
// the leader's entries replace them (appendEntries deletes from the first
// conflicting term). The no-op at S stands for an entry every leader
// holds with that index and term, and is never applied (the state
// machine is at S) nor sent (see GetLog). Restarted at any point, a node
// restores the snapshot again and restored does the same again; it
// deletes only after the state machine holds the snapshot, which is on
// disk before raft restores it.
type snapLog struct {
	raft.LogStore
	logger hclog.Logger

	mu        sync.Mutex
	snapIndex uint64 // newest snapshot written or restored
	snapTerm  uint64
}

var _ raft.LogStore = (*snapLog)(nil)

func newSnapLog(logs raft.LogStore, snap *raft.SnapshotMeta, logger hclog.Logger) *snapLog {
	l := &snapLog{LogStore: logs, logger: logger}
	if snap != nil {
		l.snapIndex, l.snapTerm = snap.Index, snap.Term
	}
	return l
}

func (l *snapLog) snapshot() (index, term uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.snapIndex, l.snapTerm
}

// noteSnapshot records a snapshot written to the snapshot store (raft's
// own, or one received from the leader) once it is complete.
func (l *snapLog) noteSnapshot(index, term uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if index >= l.snapIndex {
		l.snapIndex, l.snapTerm = index, term
	}
}

// GetLog reads entry index. Up to the newest snapshot's index it reads
// only what the log still holds: raft-wal keeps serving entries a head
// truncation deleted while their segment lives on, and after restored
// those may be a deposed leader's. For the snapshot's index itself, when
// the log holds nothing up to it, it returns a no-op entry of the
// snapshot's term. Nothing before that index can be read then, so a leader
// never sends the no-op as an entry (it would first need the entry before
// it as previous entry, and sends the snapshot instead); index 1 is never
// made up.
func (l *snapLog) GetLog(index uint64, out *raft.Log) error {
	sIndex, sTerm := l.snapshot()
	if index > sIndex {
		return l.LogStore.GetLog(index, out)
	}
	first, err := l.LogStore.FirstIndex()
	if err != nil {
		return err
	}
	last, err := l.LogStore.LastIndex()
	if err != nil {
		return err
	}
	if last != 0 && first <= index && index <= last {
		return l.LogStore.GetLog(index, out)
	}
	if index == sIndex && sIndex > 1 && (last == 0 || first > sIndex) {
		*out = raft.Log{Index: sIndex, Term: sTerm, Type: raft.LogNoop}
		return nil
	}
	return raft.ErrLogNotFound
}

// StoreLog stores one entry (see StoreLogs).
func (l *snapLog) StoreLog(entry *raft.Log) error {
	return l.StoreLogs([]*raft.Log{entry})
}

// StoreLogs appends entries. When they start past the log's end right
// after the newest snapshot (raft installed it over a shorter log), the
// old entries, all covered by the snapshot, are deleted first.
func (l *snapLog) StoreLogs(entries []*raft.Log) error {
	if len(entries) > 0 {
		last, err := l.LogStore.LastIndex()
		if err != nil {
			return err
		}
		sIndex, _ := l.snapshot()
		if next := entries[0].Index; last != 0 && next > last+1 && next == sIndex+1 {
			first, err := l.LogStore.FirstIndex()
			if err != nil {
				return err
			}
			if err := l.LogStore.DeleteRange(first, last); err != nil {
				return fmt.Errorf("raftnode: dropping log entries %d..%d behind snapshot %d: %w", first, last, sIndex, err)
			}
		}
	}
	return l.LogStore.StoreLogs(entries)
}

// restored is called once the state machine holds the snapshot ending at
// index (term): unless the log holds that entry with that term, every
// entry up to index goes (the snapshot stands for them), as the Raft
// paper's InstallSnapshot discards a log that does not contain the
// snapshot's last entry.
func (l *snapLog) restored(index, term uint64) error {
	l.noteSnapshot(index, term)
	first, err := l.LogStore.FirstIndex()
	if err != nil {
		return err
	}
	last, err := l.LogStore.LastIndex()
	if err != nil {
		return err
	}
	if last == 0 || first > index {
		return nil
	}
	var e raft.Log
	if index <= last {
		if err := l.LogStore.GetLog(index, &e); err == nil && e.Term == term {
			return nil
		}
	}
	l.logger.Info("deleting log entries the restored snapshot replaces",
		"from", first, "to", min(index, last), "snapshot_index", index, "log_last", last)
	if err := l.LogStore.DeleteRange(first, min(index, last)); err != nil {
		return fmt.Errorf("raftnode: deleting log entries %d..%d behind restored snapshot %d: %w", first, min(index, last), index, err)
	}
	return nil
}
