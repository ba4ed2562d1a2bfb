package raftnode

import (
	"io"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// StateMachine is what raftnode replicates. One raft log entry carries a batch
// of encoded commands; ApplyCommands applies them in order and returns one
// result per command (a value or an error).
type StateMachine interface {
	ApplyCommands(index uint64, cmds [][]byte) []any
	Snapshot() (raft.FSMSnapshot, error)
	Restore(rc io.ReadCloser) error
}

// SharedApplier is a StateMachine whose results may be shared with its
// state (a stored object its apply hands back, never changed in place):
// each such result is a Detacher. The node applies entries with
// ApplyShared and detaches only the results a caller waits for, on the
// replica that proposed the entry; the other replicas drop their
// results without copying them.
type SharedApplier interface {
	ApplyShared(index uint64, cmds [][]byte) []any
}

// Detacher is a result shared with the state machine's state: Detach
// returns the caller's own copy of it.
type Detacher interface {
	Detach() any
}

// fsmAdapter turns a StateMachine into a raft.FSM. It also tracks the index
// of the last entry the state machine has consumed, which raft itself does
// not expose (raft.AppliedIndex counts entries handed to the FSM goroutine,
// not entries applied).
type fsmAdapter struct {
	sm     StateMachine
	logger hclog.Logger
	// lastOpened is the snapshot most recently opened through
	// snapshotStore.
	lastOpened atomic.Pointer[raft.SnapshotMeta]
	// logs is told about every snapshot the state machine restores.
	logs *snapLog

	// applied is the highest index known to be reflected in sm: command and
	// configuration entries as they are applied, the snapshot index after a
	// restore, and barrier indexes once their futures complete.
	applied atomic.Uint64
	// notify wakes waitApplied callers whenever applied grows.
	notify *appliedNotifier
}

var (
	_ raft.FSM                = (*fsmAdapter)(nil)
	_ raft.ConfigurationStore = (*fsmAdapter)(nil)
)

// Apply decodes the batch envelope and hands the commands to the state
// machine. The response is the []any of per-command results, or an error if
// the envelope is malformed (identically on every replica, since all decode
// the same bytes).
func (f *fsmAdapter) Apply(l *raft.Log) any {
	defer f.advance(l.Index)
	cmds, err := decodeEnvelope(l.Data)
	if err != nil {
		f.logger.Error("skipping log entry with malformed envelope", "index", l.Index, "error", err)
		return err
	}
	if sa, ok := f.sm.(SharedApplier); ok {
		return sa.ApplyShared(l.Index, cmds)
	}
	return f.sm.ApplyCommands(l.Index, cmds)
}

// StoreConfiguration only records progress; configuration entries carry no
// commands.
func (f *fsmAdapter) StoreConfiguration(index uint64, _ raft.Configuration) {
	f.advance(index)
}

func (f *fsmAdapter) Snapshot() (raft.FSMSnapshot, error) { return f.sm.Snapshot() }

// Restore replaces the state machine's state. raft does not pass the
// snapshot's index, but it opens the snapshot through the store just before
// restoring it (at startup, on InstallSnapshot, on user restore), and
// snapshotStore records the index of the last one opened. The only other
// opens are the leader's, to send snapshots to followers, and a leader
// never restores except for a user restore, which this package does not
// offer.
func (f *fsmAdapter) Restore(rc io.ReadCloser) error {
	if err := f.sm.Restore(rc); err != nil {
		return err
	}
	var index, term uint64
	if m := f.lastOpened.Load(); m != nil {
		index, term = m.Index, m.Term
	}
	if f.logs != nil && index > 0 {
		if err := f.logs.restored(index, term); err != nil {
			return err
		}
	}
	f.applied.Store(index)
	f.notify.wake()
	return nil
}

// advance raises applied to at least index.
func (f *fsmAdapter) advance(index uint64) {
	for {
		cur := f.applied.Load()
		if index <= cur {
			return
		}
		if f.applied.CompareAndSwap(cur, index) {
			f.notify.wake()
			return
		}
	}
}

// snapshotStore wraps the node's snapshot store to tell the adapter which
// snapshot raft is about to restore, the log store which snapshots are
// complete, and sends how often the same one is opened.
type snapshotStore struct {
	raft.SnapshotStore
	fsm   *fsmAdapter
	logs  *snapLog
	sends *snapshotSends
}

func (s snapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	meta, rc, err := s.SnapshotStore.Open(id)
	if err == nil {
		s.fsm.lastOpened.Store(meta)
		if s.sends != nil {
			rc = &sentReader{ReadCloser: rc, id: meta.ID, sends: s.sends}
		}
	}
	return meta, rc, err
}

// sentReader reports a snapshot read to its end (sent whole, or restored)
// to snapshotSends when closed; one a failed connection left unread is
// not counted, so a follower that is down does not make the leader take
// new snapshots.
type sentReader struct {
	io.ReadCloser
	id    string
	sends *snapshotSends
	done  bool
}

func (r *sentReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err == io.EOF {
		r.done = true
	}
	return n, err
}

func (r *sentReader) Close() error {
	if r.done {
		r.done = false
		r.sends.opened(r.id)
	}
	return r.ReadCloser.Close()
}

func (s snapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.SnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	return &noteSink{SnapshotSink: sink, logs: s.logs, index: index, term: term}, nil
}

// noteSink tells the log store about a snapshot once it is complete.
type noteSink struct {
	raft.SnapshotSink
	logs        *snapLog
	index, term uint64
}

func (s *noteSink) Close() error {
	if err := s.SnapshotSink.Close(); err != nil {
		return err
	}
	if s.logs != nil {
		s.logs.noteSnapshot(s.index, s.term)
	}
	return nil
}
