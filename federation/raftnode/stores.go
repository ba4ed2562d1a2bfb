package raftnode

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// Log store kinds (Config.LogStore).
const (
	// LogStoreWAL is hashicorp/raft-wal: segment files, one fsync per
	// append. The default for new data directories.
	LogStoreWAL = "wal"
	// LogStoreBolt is hashicorp/raft-boltdb/v2: one bolt file, two fsyncs
	// per append (data and meta page).
	LogStoreBolt = "bolt"
)

// Names inside Config.DataDir.
const (
	walDirName   = "wal"
	boltFileName = "raft.db"
)

// stores is the storage a node runs on; closeFn releases it after raft has
// shut down.
type stores struct {
	kind    string
	logs    raft.LogStore
	stable  raft.StableStore
	snaps   raft.SnapshotStore
	closeFn func() error
}

// openStores opens the log+stable store chosen by resolveLogStore and the
// file snapshot store in cfg.DataDir, or in-memory stores when
// cfg.InMemory.
func openStores(cfg Config, logger hclog.Logger) (*stores, error) {
	if cfg.InMemory {
		mem := raft.NewInmemStore()
		return &stores{
			kind:    "memory",
			logs:    mem,
			stable:  mem,
			snaps:   raft.NewInmemSnapshotStore(),
			closeFn: func() error { return nil },
		}, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("raftnode: data dir: %w", err)
	}
	kind, err := resolveLogStore(cfg)
	if err != nil {
		return nil, err
	}
	removeTornSnapshots(cfg.DataDir, logger)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.SnapshotRetain, logger.Named("snapshots"))
	if err != nil {
		return nil, fmt.Errorf("raftnode: snapshot store: %w", err)
	}
	var (
		logs   raft.LogStore
		stable raft.StableStore
		closer func() error
	)
	switch kind {
	case LogStoreWAL:
		dir := filepath.Join(cfg.DataDir, walDirName)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("raftnode: wal dir: %w", err)
		}
		w, err := openWAL(dir, cfg.WALSegmentSize, logger)
		if err != nil {
			return nil, storeError(cfg, LogStoreWAL, "open", err)
		}
		// Since raft-wal v0.4.1 WAL.Close also closes its meta store.
		logs, stable, closer = w, w, w.Close
	default:
		var b *raftboltdb.BoltStore
		err := safely(func() (err error) {
			b, err = raftboltdb.New(raftboltdb.Options{
				Path:   filepath.Join(cfg.DataDir, boltFileName),
				NoSync: cfg.NoSync,
			})
			return err
		})
		if err != nil {
			return nil, storeError(cfg, LogStoreBolt, "open", err)
		}
		logs, stable, closer = b, b, b.Close
	}
	cached, err := raft.NewLogCache(logCacheSize, logs)
	if err != nil {
		_ = closer()
		return nil, fmt.Errorf("raftnode: log cache: %w", err)
	}
	return &stores{kind: kind, logs: cached, stable: stable, snaps: snaps, closeFn: closer}, nil
}

// resolveLogStore decides which log store cfg.DataDir uses. A directory
// keeps the kind it was created with: asking for the other kind is an
// error that names the setting to change, never a silent second log.
func resolveLogStore(cfg Config) (string, error) {
	hasWAL, err := exists(filepath.Join(cfg.DataDir, walDirName))
	if err != nil {
		return "", err
	}
	hasBolt, err := exists(filepath.Join(cfg.DataDir, boltFileName))
	if err != nil {
		return "", err
	}
	var found string
	switch {
	case hasWAL && hasBolt:
		return "", fmt.Errorf("raftnode: data dir %s holds both a %s/ and a %s log store; remove the one not in use",
			cfg.DataDir, walDirName, boltFileName)
	case hasWAL:
		found = LogStoreWAL
	case hasBolt:
		found = LogStoreBolt
	}
	want := cfg.LogStore
	if want == "" && cfg.NoSync {
		want = LogStoreBolt
	}
	switch {
	case found != "" && want != "" && found != want:
		return "", fmt.Errorf("raftnode: data dir %s holds a %s log store but %s was asked for; "+
			"set the log store to %q or use another data dir", cfg.DataDir, found, want, found)
	case found == LogStoreWAL && cfg.NoSync:
		return "", errors.New("raftnode: NoSync needs the bolt log store, the data dir holds a WAL")
	case found != "":
		return found, nil
	case want != "":
		return want, nil
	}
	return LogStoreWAL, nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("raftnode: %w", err)
}

// openWAL opens the raft-wal store in dir. Open does not release the meta
// store's file lock when it fails (raft-wal v0.4.1), so the meta store is
// ours until Open succeeds: a failed open in a process that goes on (a
// retry, `flotilla-hub check`) must not leave the directory locked.
func openWAL(dir string, segmentSize int, logger hclog.Logger) (*raftwal.WAL, error) {
	meta := &metadb.BoltMetaDB{}
	if segmentSize <= 0 {
		segmentSize = raftwal.DefaultSegmentSize
	}
	var w *raftwal.WAL
	err := safely(func() (err error) {
		w, err = raftwal.Open(dir, raftwal.WithMetaStore(meta), raftwal.WithLogger(logger.Named("wal")),
			raftwal.WithSegmentSize(segmentSize))
		return err
	})
	if err != nil {
		_ = meta.Close()
		return nil, err
	}
	return w, nil
}

// LogStore returns the kind of log store the node runs on: LogStoreWAL,
// LogStoreBolt or "memory".
func (n *Node) LogStore() string { return n.st.kind }
