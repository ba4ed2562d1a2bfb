package raftnode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Inspection is what Inspect found in a replica's data directory.
type Inspection struct {
	DataDir string
	// Store is the log store kind (LogStoreWAL, LogStoreBolt), "" when the
	// directory holds no raft data yet.
	Store string
	// FirstIndex, LastIndex and LastTerm describe the log; CurrentTerm is
	// the term in the stable store.
	FirstIndex, LastIndex, LastTerm, CurrentTerm uint64
	// Snapshots lists the snapshots newest first; Restore is the one raft
	// would restore at startup ("" for none).
	Snapshots []SnapshotReport
	Restore   string
	// Unfinished lists snapshot directories a replica stopped while
	// writing left behind (removed at the next start).
	Unfinished []string
	// Err is why a replica cannot start on this directory; nil means it can.
	Err error
}

// SnapshotReport describes one snapshot on disk.
type SnapshotReport struct {
	ID          string
	Index, Term uint64
	Size        int64
	// Err says why the snapshot cannot be restored (nil: it can).
	Err error
}

// Inspect checks a stopped replica's data directory the way New would
// before starting raft on it, without starting raft and without changing
// the directory: the log store is opened from a copy in a temporary
// directory (opening a store may recover or prune its files), and the
// snapshots are read in place.
func Inspect(dataDir string) *Inspection {
	in := &Inspection{DataDir: dataDir}
	if _, err := os.Stat(dataDir); err != nil {
		in.Err = err
		return in
	}
	in.Snapshots, in.Unfinished = readSnapshots(dataDir)
	kind, err := resolveLogStore(Config{DataDir: dataDir})
	if err != nil {
		in.Err = err
		return in
	}
	for _, s := range in.Snapshots {
		if s.Err == nil {
			in.Restore = s.ID
			break
		}
	}
	var snapErr error
	if in.Restore == "" && len(in.Snapshots) > 0 {
		snapErr = &StoreError{DataDir: dataDir, Store: snapshotsDirName, Op: "snapshot",
			Err: errors.New("no snapshot can be read")}
	}
	src := filepath.Join(dataDir, walDirName)
	if kind == LogStoreBolt {
		src = filepath.Join(dataDir, boltFileName)
	}
	if ok, _ := exists(src); ok {
		in.Store = kind
		in.Err = in.inspectLog(kind, src)
	}
	if snapErr != nil {
		in.Err = snapErr
	}
	return in
}

// inspectLog opens a copy of the log store at src and reads what startup reads.
func (in *Inspection) inspectLog(kind, src string) error {
	tmp, err := os.MkdirTemp("", "flotilla-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dst := filepath.Join(tmp, filepath.Base(src))
	if err := copyTree(src, dst); err != nil {
		return fmt.Errorf("copying the log store to %s: %w", tmp, err)
	}
	fail := func(op string, err error) error {
		return &StoreError{DataDir: in.DataDir, Store: kind, Op: op, Err: err}
	}
	var (
		logs   raft.LogStore
		stable raft.StableStore
	)
	if kind == LogStoreWAL {
		w, err := openWAL(dst, 0, hclog.NewNullLogger())
		if err != nil {
			return fail("open", err)
		}
		defer w.Close()
		logs, stable = w, w
	} else {
		var b *raftboltdb.BoltStore
		if err := safely(func() (err error) {
			b, err = raftboltdb.New(raftboltdb.Options{Path: dst, NoSync: true})
			return err
		}); err != nil {
			return fail("open", err)
		}
		defer b.Close()
		logs, stable = b, b
	}
	if err := safely(func() (err error) {
		in.CurrentTerm, err = stable.GetUint64(keyCurrentTerm)
		if isNotFound(err) {
			err = nil
		}
		return err
	}); err != nil {
		return fail("read current term", err)
	}
	var snap *raft.SnapshotMeta
	for _, s := range in.Snapshots {
		if s.ID == in.Restore {
			snap = &raft.SnapshotMeta{ID: s.ID, Index: s.Index, Term: s.Term}
		}
	}
	span, err := readLogSpan(logs, snap)
	in.FirstIndex, in.LastIndex, in.LastTerm = span.first, span.last, span.lastTerm
	if err != nil {
		return fail("read", err)
	}
	return nil
}

// snapshotMeta is the part of the file snapshot store's meta.json that a
// check needs.
type snapshotMeta struct {
	ID          string
	Index, Term uint64
	Size        int64
	CRC         []byte
}

// readSnapshots reads the snapshot store's directory in place, newest
// first, checking each snapshot's data against its checksum as the store
// does when raft opens it.
func readSnapshots(dataDir string) (reports []SnapshotReport, unfinished []string) {
	dir := filepath.Join(dataDir, snapshotsDirName)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if strings.HasSuffix(e.Name(), tmpSnapshotSuffix) {
			unfinished = append(unfinished, e.Name())
			continue
		}
		reports = append(reports, checkSnapshot(filepath.Join(dir, e.Name()), e.Name()))
	}
	sort.Slice(reports, func(i, j int) bool {
		a, b := reports[i], reports[j]
		if a.Term != b.Term {
			return a.Term > b.Term
		}
		if a.Index != b.Index {
			return a.Index > b.Index
		}
		return a.ID > b.ID
	})
	return reports, unfinished
}

func checkSnapshot(dir, name string) SnapshotReport {
	r := SnapshotReport{ID: name}
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		r.Err = err
		return r
	}
	var m snapshotMeta
	if err := json.Unmarshal(b, &m); err != nil {
		r.Err = fmt.Errorf("meta.json: %w", err)
		return r
	}
	r.Index, r.Term, r.Size = m.Index, m.Term, m.Size
	f, err := os.Open(filepath.Join(dir, "state.bin"))
	if err != nil {
		r.Err = err
		return r
	}
	defer f.Close()
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	n, err := io.Copy(h, f)
	switch {
	case err != nil:
		r.Err = err
	case n != m.Size:
		r.Err = fmt.Errorf("state.bin holds %d bytes, meta.json says %d (torn write)", n, m.Size)
	case !bytes.Equal(h.Sum(nil), m.CRC):
		r.Err = errors.New("state.bin does not match its checksum (torn or damaged)")
	}
	return r
}

// copyTree copies a file or a directory of regular files.
func copyTree(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return copyFile(src, dst)
	}
	if err := os.MkdirAll(dst, 0o750); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// WriteTo writes the inspection as a short report for an operator.
func (in *Inspection) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "data dir:   %s\n", in.DataDir)
	switch in.Store {
	case "":
		fmt.Fprintf(&b, "log store:  none (a new replica would start empty)\n")
	default:
		fmt.Fprintf(&b, "log store:  %s\n", in.Store)
		fmt.Fprintf(&b, "log:        first index %d, last index %d, last term %d\n", in.FirstIndex, in.LastIndex, in.LastTerm)
		fmt.Fprintf(&b, "term:       %d\n", in.CurrentTerm)
	}
	if len(in.Snapshots) == 0 {
		fmt.Fprintf(&b, "snapshots:  none\n")
	}
	for _, s := range in.Snapshots {
		status := "ok"
		if s.Err != nil {
			status = "DAMAGED: " + s.Err.Error()
		} else if s.ID == in.Restore {
			status = "ok, restored at startup"
		}
		fmt.Fprintf(&b, "snapshot:   %s (index %d, term %d, %d bytes): %s\n", s.ID, s.Index, s.Term, s.Size, status)
	}
	for _, u := range in.Unfinished {
		fmt.Fprintf(&b, "unfinished: %s (a snapshot cut short; removed at the next start)\n", u)
	}
	var se *StoreError
	switch {
	case errors.As(in.Err, &se):
		fmt.Fprintf(&b, "result:     CANNOT START: the %s data in %s: %s: %v\n", se.Store, se.where(), se.Op, se.Err)
		fmt.Fprintf(&b, "what to do: %s\n", se.Remedy())
	case in.Err != nil:
		fmt.Fprintf(&b, "result:     CANNOT START: %v\n", in.Err)
	default:
		fmt.Fprintf(&b, "result:     ok, a replica can start on this directory\n")
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}
