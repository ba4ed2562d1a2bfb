// Package fsm is the hub's raft finite state machine: the typed commands
// the raft log carries (one registry, registry.go, gives each its number
// and says what it returns), their versioned encoding, and an FSM that
// applies them to a state.Store and snapshots and restores it.
//
// Apply is deterministic. It reads no clock, draws no random numbers and
// does no I/O: every ID and time is stamped by the writer and travels in
// the command, and the only values the FSM derives (job numbers, record
// sequence numbers) come from the state itself. Replaying a log on a fresh
// replica therefore yields byte-identical snapshots.
package fsm

import (
	"bufio"
	"io"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/hashicorp/raft"
)

// FSM applies commands to a store. raft calls it from one goroutine.
type FSM struct {
	store *state.Store
	names *interner // the names its commands repeat (intern.go)
}

var _ raft.FSM = (*FSM)(nil)

// New returns an FSM writing to store.
func New(store *state.Store) *FSM { return &FSM{store: store, names: newInterner()} }

// Store returns the store the FSM writes to.
func (f *FSM) Store() *state.Store { return f.store }

// ApplyCommands applies the commands of one raft log entry in order, in one
// store transaction stamped with index, and returns one result per command:
// an error (typed, see structs), or the command's value (nil for commands
// without one). A failing command changes nothing; the others still apply.
func (f *FSM) ApplyCommands(index uint64, cmds [][]byte) []any {
	return detach(f.ApplyShared(index, cmds))
}

// ApplyShared is ApplyCommands whose results may be shared with the
// store (shared.go): a value with a Detach method, which returns the
// caller's own copy. raftnode detaches those a caller waits for.
func (f *FSM) ApplyShared(index uint64, cmds [][]byte) []any {
	results := make([]any, len(cmds))
	if len(cmds) == 0 {
		return results
	}
	w := f.store.Write(index)
	for i, b := range cmds {
		cmd, err := decode(b, f.names)
		if err == nil {
			results[i], err = cmd.apply(w)
		}
		if err != nil {
			results[i] = err
		}
	}
	if err := w.Commit(); err != nil {
		for i := range results {
			results[i] = err
		}
	}
	return results
}

// Apply implements raft.FSM for a log whose Data is one encoded command.
func (f *FSM) Apply(l *raft.Log) any {
	return f.ApplyCommands(l.Index, [][]byte{l.Data})[0]
}

// Snapshot implements raft.FSM. It is O(1); Persist writes in the background.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{snap: f.store.Snapshot()}, nil
}

// Restore implements raft.FSM, replacing the store's contents.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	return f.store.Restore(bufio.NewReaderSize(rc, 64<<10))
}

type fsmSnapshot struct {
	snap *state.Snapshot
}

// Persist writes the snapshot to sink, closing it, or cancelling it on error.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	bw := bufio.NewWriterSize(sink, 64<<10)
	err := s.snap.Persist(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot; the view needs no release.
func (s *fsmSnapshot) Release() {}
