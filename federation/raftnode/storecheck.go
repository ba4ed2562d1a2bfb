package raftnode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// ErrDamagedStore is matched (errors.Is) by every *StoreError: a replica's
// log store or snapshots cannot be used, so the replica must not start.
var ErrDamagedStore = errors.New("raftnode: damaged raft data")

// StoreError says that a replica's raft data cannot be used and what to do
// about it. New returns it instead of letting raft panic on a log it cannot
// read; `flotilla-hub check` reports the same findings.
type StoreError struct {
	// ID is the replica's raft id ("" when unknown, as in a check).
	ID ServerID
	// DataDir is the replica's data directory.
	DataDir string
	// Store is the log store kind (LogStoreWAL or LogStoreBolt), or
	// "snapshots" when the snapshots are at fault.
	Store string
	// Op is what failed: "open", "read", "snapshot".
	Op string
	// Err is the cause.
	Err error
}

func (e *StoreError) Error() string {
	return fmt.Sprintf("raftnode: the %s raft data in %s cannot be used (%s: %v). "+
		"This replica must not start on it. Inspect it with `flotilla-hub check -data-dir %s`; %s",
		e.Store, e.where(), e.Op, e.Err, e.DataDir, e.Remedy())
}

// Remedy says how to bring the replica back.
func (e *StoreError) Remedy() string {
	id := e.ID
	if id == "" {
		id = "<id>"
	}
	return fmt.Sprintf("to recover, remove the replica through a healthy member (`flotilla admin replica remove %s`), "+
		"clear %s and start the replica again with -join pointing at a member; "+
		"see docs/operations.md, \"A replica that cannot start\"", id, e.DataDir)
}

func (e *StoreError) where() string {
	switch e.Store {
	case LogStoreWAL:
		return filepath.Join(e.DataDir, walDirName)
	case LogStoreBolt:
		return filepath.Join(e.DataDir, boltFileName)
	case snapshotsDirName:
		return filepath.Join(e.DataDir, snapshotsDirName)
	}
	return e.DataDir
}

func (e *StoreError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrDamagedStore) true.
func (e *StoreError) Is(target error) bool { return target == ErrDamagedStore }

func storeError(cfg Config, store, op string, err error) error {
	return &StoreError{ID: cfg.ID, DataDir: cfg.DataDir, Store: store, Op: op, Err: err}
}

// safely runs f and turns a panic inside it into an error: the storage
// libraries panic on some damaged files (a bolt page of the wrong type),
// and raft.NewRaft panics on a log entry it cannot read.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the store library failed on damaged data: %v", r)
		}
	}()
	return f()
}

// removeTornSnapshots deletes snapshot directories that a replica killed
// while writing a snapshot left behind. The file snapshot store writes a
// snapshot into "<id>.tmp" and renames it only when complete, so such a
// directory is never a snapshot raft would load; it only takes space.
func removeTornSnapshots(dataDir string, logger hclog.Logger) {
	dir := filepath.Join(dataDir, snapshotsDirName)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.IsDir() && strings.HasSuffix(e.Name(), tmpSnapshotSuffix) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				logger.Warn("removing an unfinished snapshot", "dir", e.Name(), "error", err)
				continue
			}
			logger.Info("removed an unfinished snapshot (the replica was stopped while writing it)", "dir", e.Name())
		}
	}
}

// Names the file snapshot store uses inside the data directory.
const (
	snapshotsDirName  = "snapshots"
	tmpSnapshotSuffix = ".tmp"
)

// logSpan is what a log store holds.
type logSpan struct {
	first, last, lastTerm uint64
}

// verifyStores does, before raft starts, the reads raft.NewRaft does at
// startup, so that damage is an error naming the store instead of a panic
// inside raft: the current term, the newest snapshot that opens (a
// damaged one is skipped, as raft skips it), and every log entry after
// that snapshot, which raft reads to rebuild its configuration.
func verifyStores(cfg Config, st *stores) (logSpan, *raft.SnapshotMeta, error) {
	var span logSpan
	if _, err := st.stable.GetUint64(keyCurrentTerm); err != nil && !isNotFound(err) {
		return span, nil, storeError(cfg, st.kind, "read current term", err)
	}
	snap, err := newestReadableSnapshot(st.snaps)
	if err != nil {
		return span, nil, storeError(cfg, snapshotsDirName, "snapshot", err)
	}
	span, err = readLogSpan(st.logs, snap)
	if err != nil {
		return span, snap, storeError(cfg, st.kind, "read", err)
	}
	return span, snap, nil
}

// keyCurrentTerm is the stable-store key under which raft keeps its term.
var keyCurrentTerm = []byte("CurrentTerm")

// isNotFound reports a missing stable-store key: bolt returns
// ErrKeyNotFound, raft-wal returns zero and no error.
func isNotFound(err error) bool { return errors.Is(err, raftboltdb.ErrKeyNotFound) }

// newestReadableSnapshot returns the newest snapshot whose data matches
// its checksum, nil when there are none, or an error when snapshots exist
// and none can be read.
func newestReadableSnapshot(snaps raft.SnapshotStore) (*raft.SnapshotMeta, error) {
	var metas []*raft.SnapshotMeta
	if err := safely(func() (err error) { metas, err = snaps.List(); return err }); err != nil {
		return nil, err
	}
	var errs []error
	for _, m := range metas {
		err := safely(func() error {
			_, rc, err := snaps.Open(m.ID)
			if err != nil {
				return err
			}
			return rc.Close()
		})
		if err == nil {
			return m, nil
		}
		errs = append(errs, fmt.Errorf("snapshot %s: %w", m.ID, err))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("no snapshot can be read: %w", errors.Join(errs...))
	}
	return nil, nil
}

// readLogSpan reads the log's bounds and every entry in it: raft reads
// those after snap at startup and the others when a lagging follower
// needs them, so damage anywhere is found now rather than then. It also
// fails when the log does not continue where snap ends.
func readLogSpan(logs raft.LogStore, snap *raft.SnapshotMeta) (logSpan, error) {
	var span logSpan
	err := safely(func() error {
		var err error
		if span.first, err = logs.FirstIndex(); err != nil {
			return fmt.Errorf("first index: %w", err)
		}
		if span.last, err = logs.LastIndex(); err != nil {
			return fmt.Errorf("last index: %w", err)
		}
		if span.last == 0 {
			return nil
		}
		var from uint64 = 1
		if snap != nil {
			from = snap.Index + 1
		}
		if span.last >= from && span.first > from {
			if snap == nil {
				return fmt.Errorf("the log starts at index %d, no snapshot holds entries 1 to %d", span.first, span.first-1)
			}
			return fmt.Errorf("the log starts at index %d but the newest readable snapshot %s ends at %d: entries %d to %d are missing",
				span.first, snap.ID, snap.Index, from, span.first-1)
		}
		var l raft.Log
		for i := span.first; i <= span.last; i++ {
			if err := logs.GetLog(i, &l); err != nil {
				return fmt.Errorf("entry %d of %d..%d: %w", i, span.first, span.last, err)
			}
			if l.Index != i {
				return fmt.Errorf("entry %d of %d..%d reads back as entry %d", i, span.first, span.last, l.Index)
			}
		}
		span.lastTerm = l.Term
		return nil
	})
	return span, err
}

func snapshotID(m *raft.SnapshotMeta) string {
	if m == nil {
		return ""
	}
	return m.ID
}
