package state

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/hashicorp/go-memdb"
)

// copier is a stored pointer type that can deep-copy itself.
type copier[T any] interface{ Copy() T }

// stored is a stored object carrying raft indexes.
type stored interface{ GetRaftIndex() *structs.RaftIndex }

func notFound(what string, key ...any) error {
	// A one-string key (most lookups, and admission's "is this job ID
	// free?" on every submission) skips fmt: the same text, 8 → 5
	// allocations for the lookup (BenchmarkJobRefMissing).
	if len(key) == 1 {
		if k, ok := key[0].(string); ok {
			return &structs.Error{Kind: structs.ErrNotFound, Msg: what + " " + strconv.Quote(k)}
		}
	}
	return structs.Errorf(structs.ErrNotFound, "%s %q", what, joinKey(key))
}

func joinKey(key []any) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = fmt.Sprint(k)
	}
	return strings.Join(parts, "/")
}

// rawByID returns the stored object (not a copy) with the given id, or nil.
func rawByID(txn *memdb.Txn, tbl string, key ...any) (any, error) {
	raw, err := txn.First(tbl, "id", key...)
	if err != nil {
		return nil, fmt.Errorf("state: %s lookup: %w", tbl, err)
	}
	return raw, nil
}

// getByID returns a copy of the object with the given id, or ErrNotFound.
func getByID[T copier[T]](txn *memdb.Txn, tbl, what string, key ...any) (T, error) {
	var zero T
	raw, err := rawByID(txn, tbl, key...)
	if err != nil {
		return zero, err
	}
	if raw == nil {
		return zero, notFound(what, key...)
	}
	return raw.(T).Copy(), nil
}

// listAll returns copies of every object an index lookup matches, in index order.
func listAll[T copier[T]](txn *memdb.Txn, tbl, index string, args ...any) ([]T, error) {
	it, err := txn.Get(tbl, index, args...)
	if err != nil {
		return nil, fmt.Errorf("state: %s by %s: %w", tbl, index, err)
	}
	var out []T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(T).Copy())
	}
	return out, nil
}

// exists reports whether an index lookup matches anything.
func exists(txn *memdb.Txn, tbl, index string, args ...any) (bool, error) {
	it, err := txn.Get(tbl, index, args...)
	if err != nil {
		return false, fmt.Errorf("state: %s by %s: %w", tbl, index, err)
	}
	return it.Next() != nil, nil
}

// page collects copies from an iterator positioned at a lower bound. It
// stops at the first object for which inRange is false, skips those keep
// rejects, and returns at most limit (0: all) objects. next is the key of the
// last returned object when more matching objects remain, else 0.
func page[T copier[T]](it memdb.ResultIterator, inRange, keep func(T) bool, key func(T) uint64, limit int) (out []T, next uint64) {
	for raw := it.Next(); raw != nil; raw = it.Next() {
		o := raw.(T)
		if !inRange(o) {
			break
		}
		if !keep(o) {
			continue
		}
		if limit > 0 && len(out) == limit {
			return out, key(out[len(out)-1])
		}
		out = append(out, o.Copy())
	}
	return out, 0
}

// insert stamps obj with raft indexes (keeping the create index of the
// object it replaces, if any) and stores it.
func (w *WriteTxn) insert(t table, obj, existing stored) error {
	ri := obj.GetRaftIndex()
	ri.CreateIndex = w.index
	if existing != nil {
		ri.CreateIndex = existing.GetRaftIndex().CreateIndex
	}
	ri.ModifyIndex = w.index
	if err := w.put(t, obj, existing); err != nil {
		return err
	}
	w.inserted = *ri
	w.touch(t)
	return nil
}

// put stores obj over existing: a job in play and a finished one (moved
// out of the jobs in play if it was there), an accounting record and an
// audit event go to the archive (live.go, archive.go, history.go), every
// other row to its table.
func (w *WriteTxn) put(t table, obj, existing stored) error {
	switch o := obj.(type) {
	case *structs.Job:
		old, _ := existing.(*structs.Job)
		if !o.State.IsTerminal() {
			w.archiveW(partLive).live.put(o, old)
			return nil
		}
		if old != nil && !old.State.IsTerminal() {
			w.archiveW(partLive).live.del(old)
		}
		w.archiveW(partJobs).addJob(o)
		return nil
	case *structs.AccountingRecord:
		w.archiveW(partRecords).addRec(o)
		return nil
	case *structs.AuditEvent:
		w.archiveW(partAudit).addAudit(o)
		return nil
	}
	if err := w.txn.Insert(t.name(), obj); err != nil {
		return fmt.Errorf("state: insert into %s: %w", t.name(), err)
	}
	return nil
}

// upsert inserts obj, replacing the object with the same id, if the stored
// object meets the precondition cas (see checkCAS; what names the object).
func (w *WriteTxn) upsert(t table, obj stored, cas structs.CAS, what string, key ...any) error {
	raw, err := rawByID(w.txn, t.name(), key...)
	if err != nil {
		return err
	}
	existing, _ := raw.(stored)
	if err := checkCAS(cas, existing, what, key...); err != nil {
		return err
	}
	return w.insert(t, obj, existing)
}

// checkCAS enforces a compare-and-swap precondition (structs.CAS.Check)
// against the stored object, nil when there is none: with
// ExpectModifyIndex > 0 the object must exist with that ModifyIndex, with
// ExpectAbsent it must not exist. It depends only on the stored state, so
// Apply stays deterministic.
func checkCAS(cas structs.CAS, existing stored, what string, key ...any) error {
	var have *structs.RaftIndex
	if existing != nil {
		have = existing.GetRaftIndex()
	}
	return cas.Check(have, what, joinKey(key))
}

// remove deletes the object with the given id, or returns ErrNotFound.
func (w *WriteTxn) remove(t table, what string, key ...any) error {
	raw, err := rawByID(w.txn, t.name(), key...)
	if err != nil {
		return err
	}
	if raw == nil {
		return notFound(what, key...)
	}
	if err := w.txn.Delete(t.name(), raw); err != nil {
		return fmt.Errorf("state: delete from %s: %w", t.name(), err)
	}
	w.touch(t)
	return nil
}

// mustExist returns an ErrInvalid error when a referenced object is absent.
func (w *WriteTxn) mustExist(t table, what string, key ...any) error {
	raw, err := rawByID(w.txn, t.name(), key...)
	if err != nil {
		return err
	}
	if raw == nil {
		return structs.Errorf(structs.ErrInvalid, "unknown %s %q", what, joinKey(key))
	}
	return nil
}

// refuseIfUsed returns an ErrConflict error when an index lookup matches.
func (w *WriteTxn) refuseIfUsed(what, by string, tbl, index string, args ...any) error {
	used, err := exists(w.txn, tbl, index, args...)
	if err != nil {
		return err
	}
	if used {
		return structs.Errorf(structs.ErrConflict, "%s %q is used by %s", what, joinKey(args), by)
	}
	return nil
}

// refByID returns the stored object itself, not a copy, or ErrNotFound.
// Stored objects are never changed in place (a write replaces them), so
// the pointer stays valid and consistent; the caller must not modify it.
func refByID[T any](txn *memdb.Txn, tbl, what string, key ...any) (T, error) {
	var zero T
	raw, err := rawByID(txn, tbl, key...)
	if err != nil {
		return zero, err
	}
	if raw == nil {
		return zero, notFound(what, key...)
	}
	return raw.(T), nil
}

// Inserted returns the raft indexes of the object this transaction stored
// last: after an Upsert, the object's CreateIndex and ModifyIndex, which a
// writer hands back so a client can make its next write conditional on
// them (structs.CAS).
func (w *WriteTxn) Inserted() structs.RaftIndex { return w.inserted }

// CheckCAS tests a delete's compare-and-swap precondition against the
// object stored in table under key: ExpectModifyIndex > 0 must match its
// ModifyIndex (a missing object is ErrNotFound, as the delete would say).
// ExpectAbsent makes no sense for a delete and is ErrInvalid.
func (w *WriteTxn) CheckCAS(table string, cas structs.CAS, what string, key ...any) error {
	if cas.ExpectAbsent {
		return structs.Errorf(structs.ErrInvalid, "delete of %s %q: cannot expect no object", what, joinKey(key))
	}
	if cas.ExpectModifyIndex == 0 {
		return nil
	}
	raw, err := rawByID(w.txn, table, key...)
	if err != nil {
		return err
	}
	existing, _ := raw.(stored)
	if existing == nil {
		return notFound(what, key...)
	}
	return checkCAS(cas, existing, what, key...)
}
