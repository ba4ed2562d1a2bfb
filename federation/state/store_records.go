package state

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// RecordFilter pages through accounting records or audit events in
// sequence order.
type RecordFilter struct {
	Tenant string // empty: every tenant
	After  uint64 // only records with a sequence number above After
	Limit  int    // at most this many; 0 means no limit
}

// Accounting returns the record with the given ID or ErrNotFound.
// Accounting records are kept in the archive (archive.go).
func (r *ReadTxn) Accounting(id string) (*structs.AccountingRecord, error) {
	if rec := r.ar.rec(id); rec != nil {
		return rec.Copy(), nil
	}
	return nil, notFound("accounting record", id)
}

// ListAccounting pages through accounting records; see ListJobs for next.
func (r *ReadTxn) ListAccounting(f RecordFilter) ([]*structs.AccountingRecord, uint64, error) {
	if f.After == math.MaxUint64 {
		return nil, 0, nil
	}
	var out []*structs.AccountingRecord
	var next uint64
	r.ar.eachRec(f.Tenant, f.After+1, func(rec *structs.AccountingRecord) bool {
		if f.Limit > 0 && len(out) == f.Limit {
			next = out[len(out)-1].Seq
			return false
		}
		out = append(out, rec.Copy())
		return true
	})
	return out, next, nil
}

// AccountingByJob returns the records of one job, in sequence order. It
// scans every record (no index keeps records by job: the hub never asks
// this on a hot path).
func (r *ReadTxn) AccountingByJob(jobID string) ([]*structs.AccountingRecord, error) {
	var out []*structs.AccountingRecord
	r.ar.eachRec("", 0, func(rec *structs.AccountingRecord) bool {
		if rec.JobID == jobID {
			out = append(out, rec.Copy())
		}
		return true
	})
	return out, nil
}

// AppendAccounting stores a new accounting record and assigns its Seq.
// A record ID seen before is ErrConflict, so reporters may retry safely.
func (w *WriteTxn) AppendAccounting(rec *structs.AccountingRecord) (*structs.AccountingRecord, error) {
	if err := rec.Validate(); err != nil {
		return nil, err
	}
	if w.ar.rec(rec.ID) != nil {
		return nil, structs.Errorf(structs.ErrConflict, "accounting record %q exists", rec.ID)
	}
	n := rec.Copy()
	n.Seq = w.next(cAccounting)
	if err := w.insert(tAccounting, n, nil); err != nil {
		return nil, err
	}
	return n.Copy(), nil
}

// AuditEvent returns the event with the given ID or ErrNotFound. The
// audit trail is kept in the archive (history.go).
func (r *ReadTxn) AuditEvent(id string) (*structs.AuditEvent, error) {
	if e := r.ar.audit(id); e != nil {
		return e.Copy(), nil
	}
	return nil, notFound("audit event", id)
}

// ListAudit pages through audit events in sequence order; see ListJobs
// for next. No tree keeps the trail by Seq (history.go): it walks all
// events, or a tenant's, in time order, takes those above After and
// sorts them by Seq, so a page costs a walk and a sort of the trail
// (ListAudit has no production caller; QueryAudit, the production
// reader, walks the trail from a time on).
func (r *ReadTxn) ListAudit(f RecordFilter) ([]*structs.AuditEvent, uint64, error) {
	if f.After == math.MaxUint64 {
		return nil, 0, nil
	}
	var after []*structs.AuditEvent
	r.ar.eachAudit(f.Tenant, 0, func(e *structs.AuditEvent) bool {
		if e.Seq > f.After {
			after = append(after, e)
		}
		return true
	})
	slices.SortFunc(after, func(a, b *structs.AuditEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	var next uint64
	if f.Limit > 0 && len(after) > f.Limit {
		after = after[:f.Limit]
		next = after[f.Limit-1].Seq
	}
	out := make([]*structs.AuditEvent, len(after))
	for i, e := range after {
		out[i] = e.Copy()
	}
	return out, next, nil
}

// AuditAbsent validates e as AppendAudit does and reports whether no
// event with its ID is stored: whether AppendAudit would store it. It
// changes nothing (a command checks its event before the change it
// records, so that both are stored or neither).
func (w *WriteTxn) AuditAbsent(e *structs.AuditEvent) (bool, error) {
	if err := e.Validate(); err != nil {
		return false, err
	}
	return w.ar.audit(e.ID) == nil, nil
}

// AppendAbsentAudit stores e, which AuditAbsent found absent in this
// transaction, itself (the caller hands it over) and assigns its Seq: an
// audited job call's event, stored without AppendAudit's second check
// and copies.
func (w *WriteTxn) AppendAbsentAudit(e *structs.AuditEvent) error {
	e.Seq = w.next(cAudit)
	return w.insert(tAudit, e, nil)
}

// AppendAudit stores a new audit event and assigns its Seq. An event ID seen
// before is ErrConflict.
func (w *WriteTxn) AppendAudit(e *structs.AuditEvent) (*structs.AuditEvent, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if w.ar.audit(e.ID) != nil {
		return nil, structs.Errorf(structs.ErrConflict, "audit event %q exists", e.ID)
	}
	n := e.Copy()
	n.Seq = w.next(cAudit)
	if err := w.insert(tAudit, n, nil); err != nil {
		return nil, err
	}
	return n.Copy(), nil
}

// AccountingQuery selects accounting records. Zero fields select all.
type AccountingQuery struct {
	Tenant string
	User   string
	// Start and End bound the job's end time: at or after Start, before End.
	Start, End time.Time
}

// QueryAccounting returns the records the query selects, in sequence
// order (the order jobs were accounted).
func (r *ReadTxn) QueryAccounting(q AccountingQuery) ([]*structs.AccountingRecord, error) {
	all, _, err := r.ListAccounting(RecordFilter{Tenant: q.Tenant})
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, a := range all {
		switch {
		case q.User != "" && a.User != q.User,
			!q.Start.IsZero() && a.End.Before(q.Start),
			!q.End.IsZero() && !a.End.Before(q.End):
			continue
		}
		out = append(out, a)
	}
	return out, nil
}
