package state

import (
	"fmt"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// AuditQuery selects audit events. Zero fields select everything.
type AuditQuery struct {
	Tenant string    // only events of this tenant
	Since  time.Time // at or after
	Until  time.Time // before
	Actor  string    // exactly this actor
	// Object matches the object's name, or "kind/name", or the kind alone
	// followed by a slash ("user/").
	Object string
	// Action matches the action exactly ("user.update") or, ending in a
	// dot, its prefix ("user.").
	Action string
	Limit  int // at most this many, oldest first; 0: no limit
}

// matches reports whether e passes the query's filters other than time.
func (q *AuditQuery) matches(e *structs.AuditEvent) bool {
	switch {
	case q.Tenant != "" && e.Tenant != q.Tenant, q.Actor != "" && e.Actor != q.Actor:
		return false
	case q.Action != "" && e.Action != q.Action && !(strings.HasSuffix(q.Action, ".") && strings.HasPrefix(e.Action, q.Action)):
		return false
	}
	if q.Object == "" {
		return true
	}
	kind, name, slash := strings.Cut(q.Object, "/")
	if !slash {
		return e.ObjectName == q.Object
	}
	return e.ObjectKind == kind && (name == "" || e.ObjectName == name)
}

// QueryAudit returns the events the query selects, in time order.
func (r *ReadTxn) QueryAudit(q AuditQuery) ([]*structs.AuditEvent, error) {
	it, err := r.txn.LowerBound(TableAudit, "time", unixNanos(q.Since), uint64(0))
	if err != nil {
		return nil, fmt.Errorf("state: audit by time: %w", err)
	}
	var out []*structs.AuditEvent
	for raw := it.Next(); raw != nil; raw = it.Next() {
		e := raw.(*structs.AuditEvent)
		if !q.Until.IsZero() && !e.Time.Before(q.Until) {
			break
		}
		if !q.matches(e) {
			continue
		}
		out = append(out, e.Copy())
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
	}
	return out, nil
}

// AuditBefore reports whether an audit event is older than cutoff: whether
// PurgeAudit with that cutoff would delete anything.
func (r *ReadTxn) AuditBefore(cutoff time.Time) bool {
	it, err := r.txn.LowerBound(TableAudit, "time", uint64(0), uint64(0))
	if err != nil {
		return false
	}
	e, ok := it.Next().(*structs.AuditEvent)
	return ok && unixNanos(e.Time) < unixNanos(cutoff)
}

// PurgeAudit deletes the audit events older than cutoff, oldest first, at
// most limit (1..MaxPurgeBatch), and returns how many: fewer than limit
// means none is left. The cutoff is stamped by the writer.
func (w *WriteTxn) PurgeAudit(cutoff time.Time, limit int) (int, error) {
	switch {
	case cutoff.IsZero():
		return 0, structs.Errorf(structs.ErrInvalid, "audit purge: no cutoff time")
	case limit < 1 || limit > MaxPurgeBatch:
		return 0, structs.Errorf(structs.ErrInvalid, "audit purge: limit %d out of 1..%d", limit, MaxPurgeBatch)
	}
	it, err := w.txn.LowerBound(TableAudit, "time", uint64(0), uint64(0))
	if err != nil {
		return 0, err
	}
	before := unixNanos(cutoff)
	var olds []*structs.AuditEvent
	for raw := it.Next(); raw != nil && len(olds) < limit; raw = it.Next() {
		e := raw.(*structs.AuditEvent)
		if unixNanos(e.Time) >= before {
			break
		}
		olds = append(olds, e)
	}
	for _, e := range olds {
		if err := w.deleted(tAudit, e); err != nil {
			return 0, err
		}
	}
	return len(olds), nil
}
