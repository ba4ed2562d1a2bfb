package arraytask

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// RecordKind says what a journal record holds.
type RecordKind string

// Journal record kinds.
const (
	RecStart  RecordKind = "start"  // Lease granted to Worker
	RecEnd    RecordKind = "end"    // Result of an attempt of Worker
	RecCancel RecordKind = "cancel" // Lease.Index canceled
)

// Record is one line of the journal.
type Record struct {
	Kind   RecordKind `json:"k"`
	Worker string     `json:"w,omitempty"`
	Lease  Lease      `json:"l,omitzero"`
	Result Result     `json:"r,omitzero"`
}

// Apply replays a record on d.
func (d *Dispatcher) Apply(r Record) {
	switch r.Kind {
	case RecStart:
		d.Start(r.Lease, r.Worker)
	case RecEnd:
		d.Record(r.Result)
	case RecCancel:
		d.Cancel([]int{r.Lease.Index})
	}
}

// Journal is the dispatcher's durable state: an append-only file of JSON
// records, written and fsynced before the answer they belong to is sent.
// Replaying it on a fresh Dispatcher restores every start and end, so a
// task that finished is never handed out again.
type Journal struct {
	f *os.File
	w *bufio.Writer
}

// OpenJournal opens (or creates) the journal at path and replays what it
// holds onto d. A torn last line (a crash in the middle of a write) is
// ignored: its answer was never sent.
func OpenJournal(path string, d *Dispatcher) (*Journal, int, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("array journal: %w", err)
	}
	n, good, err := replay(f, d)
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if n > 0 {
		d.outputsLostInRestart()
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("array journal: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("array journal: %w", err)
	}
	return &Journal{f: f, w: bufio.NewWriterSize(f, 64<<10)}, n, nil
}

// replay applies every whole record and returns how many, and the offset
// after the last whole one.
func replay(f *os.File, d *Dispatcher) (int, int64, error) {
	r := bufio.NewReader(f)
	var n int
	var good int64
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return n, good, nil // a torn tail (no newline) is dropped
		}
		if err != nil {
			return n, good, fmt.Errorf("array journal: %w", err)
		}
		var rec Record
		if json.Unmarshal(line, &rec) != nil {
			return n, good, nil // garbage from a torn write: stop here
		}
		d.Apply(rec)
		n++
		good += int64(len(line))
	}
}

// Append writes records and syncs them to disk.
func (j *Journal) Append(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := j.Buffer(recs); err != nil {
		return err
	}
	if err := j.Flush(); err != nil {
		return err
	}
	return j.Sync()
}

// Buffer adds records to the write buffer: nothing is durable until Flush
// and Sync.
func (j *Journal) Buffer(recs []Record) error {
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		j.w.Write(b)
		j.w.WriteByte('\n')
	}
	return nil
}

// Flush hands the buffered records to the file (not yet durable).
func (j *Journal) Flush() error {
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("array journal: %w", err)
	}
	return nil
}

// Sync makes every record flushed so far durable. It does not touch the
// buffer, so it may run while records are buffered (group commit).
func (j *Journal) Sync() error {
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("array journal: %w", err)
	}
	return nil
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }
