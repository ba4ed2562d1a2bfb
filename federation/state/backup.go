package state

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Backup format (what `flotilla-hub snapshot save` writes): a header line
// {"format":"flotilla-backup","version":1,"index":N} followed by a state
// snapshot in the snapshot format above (its own versioned header, tables
// in a fixed order, the end marker), with two things left out because
// they describe the hub cluster the backup was taken from, not its data:
// the replica directory (table replicas) and the meta rows of the latest
// write to it and to the store as a whole. N is the latest write to any
// table the backup holds: the raft index a cluster restored from it starts
// at. The same data therefore backs up to the same bytes, whichever
// cluster holds it and whatever its replicas wrote about themselves.
//
// Compatibility: a reader accepts every backup and snapshot version up to
// its own. A table section it does not know was written by a newer hub:
// restoring it is refused with an error naming the table (dropping rows
// silently would lose data); a table added later is left out of a
// snapshot while it is empty (omitWhenEmpty), and a section missing from
// an older file restores as an empty table.
const (
	backupFormat  = "flotilla-backup"
	backupVersion = 1
)

// BackupHeader is the first line of a backup.
type BackupHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Index is the raft index a restored cluster starts at.
	Index uint64 `json:"index"`
}

// clusterLocal reports whether a table is left out of backups.
func clusterLocal(tbl string) bool { return tbl == TableReplicas }

// Backup writes the snapshot as a backup to w and returns its index.
func (p *Snapshot) Backup(w io.Writer) (uint64, error) {
	var index uint64
	for _, tbl := range tableNames() {
		if !clusterLocal(tbl) {
			index = max(index, (&ReadTxn{txn: p.txn, ar: p.ar}).Index(tbl))
		}
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(BackupHeader{Format: backupFormat, Version: backupVersion, Index: index}); err != nil {
		return 0, fmt.Errorf("state: backup: %w", err)
	}
	keep := func(tbl string, row any) bool {
		if clusterLocal(tbl) {
			return false
		}
		if m, ok := row.(*metaEntry); ok {
			return m.Key != AllTables && !clusterLocal(m.Key)
		}
		return true
	}
	if err := p.persist(w, keep); err != nil {
		return 0, err
	}
	return index, nil
}

// ReadBackupHeader reads and checks a backup's first line and returns
// the reader of the rest.
func ReadBackupHeader(r io.Reader) (BackupHeader, io.Reader, error) {
	var h BackupHeader
	dec := json.NewDecoder(r)
	if err := dec.Decode(&h); err != nil {
		return BackupHeader{}, nil, structs.Errorf(structs.ErrInvalid, "backup: header: %v", err)
	}
	if h.Format != backupFormat {
		return BackupHeader{}, nil, structs.Errorf(structs.ErrInvalid, "not a Flotilla backup (format %q)", h.Format)
	}
	if h.Version < 1 || h.Version > backupVersion {
		return BackupHeader{}, nil, structs.Errorf(structs.ErrInvalid,
			"backup version %d: this hub reads versions 1 to %d (a newer hub wrote it?)", h.Version, backupVersion)
	}
	if h.Index == 0 {
		return BackupHeader{}, nil, structs.Errorf(structs.ErrInvalid, "backup: index 0")
	}
	return h, io.MultiReader(dec.Buffered(), r), nil
}

// RestoreBackup replaces the store's contents with a backup read from r
// and returns its header. The store's latest index becomes the backup's
// index. On error the store is unchanged.
func (s *Store) RestoreBackup(r io.Reader) (BackupHeader, error) {
	h, rest, err := ReadBackupHeader(r)
	if err != nil {
		return h, err
	}
	if err := s.Restore(rest); err != nil {
		return h, err
	}
	w := s.Write(h.Index)
	defer w.Abort()
	w.bump(metaAll)
	if err := w.Commit(); err != nil {
		return h, fmt.Errorf("state: restore backup: %w", err)
	}
	return h, nil
}
