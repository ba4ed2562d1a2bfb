package state

import (
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

// QueryAudit returns the events the query selects, in time order. With a
// tenant it walks that tenant's events only (history.go).
func (r *ReadTxn) QueryAudit(q AuditQuery) ([]*structs.AuditEvent, error) {
	var out []*structs.AuditEvent
	r.ar.eachAudit(q.Tenant, unixNanos(q.Since), func(e *structs.AuditEvent) bool {
		if !q.Until.IsZero() && !e.Time.Before(q.Until) {
			return false
		}
		if q.matches(e) {
			out = append(out, e.Copy())
		}
		return q.Limit <= 0 || len(out) < q.Limit
	})
	return out, nil
}

// AuditBefore reports whether an audit event is older than cutoff: whether
// PurgeAudit with that cutoff would delete anything.
func (r *ReadTxn) AuditBefore(cutoff time.Time) bool {
	e := r.ar.oldestAudit()
	return e != nil && unixNanos(e.Time) < unixNanos(cutoff)
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
	before := unixNanos(cutoff)
	var olds []*structs.AuditEvent
	w.ar.eachAudit("", 0, func(e *structs.AuditEvent) bool {
		if unixNanos(e.Time) >= before {
			return false
		}
		olds = append(olds, e)
		return len(olds) < limit
	})
	if len(olds) == 0 {
		return 0, nil
	}
	ar := w.archiveW(partAudit)
	for _, e := range olds {
		ar.delAudit(e)
	}
	w.touch(tAudit)
	return len(olds), nil
}
