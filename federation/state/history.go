package state

import (
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The hub's history besides finished jobs and accounting records: the
// audit trail (an event per request that writes) and the bounded log of
// job events (a row per job change, for /v1/events and webhooks). Both
// are appended on every submission, on every replica, and never changed
// once written; they leave only from the front (retention purge, the
// event log's bound). In go-memdb each index entry of such a row cost a
// radix path copy with a watch channel per node; here the audit trail is
// a copy-on-write B-tree by ID (archive.go) and, by time, B-trees behind
// an append-only tail (auditindex.go), and the event log a queue of
// shared chunks (eventlog.go). Nothing waits on one event: watchers wait
// on the tables' modify indexes (indexes.go, watch.go).

// auditEntry is an entry of the audit trail's trees by time: the time in
// Unix nanoseconds (as the memdb index had it: 0 before 1970) and Seq,
// computed once at insert, and the event. The tree by tenant reads the
// tenant from the event: every audited submission puts an entry in both
// trees on every replica, and without the tenant's string header an
// entry is 24 bytes where it was 40 (a leaf of 31, 768 bytes where it
// was 1,280).
type auditEntry struct {
	ns, seq uint64
	e       *structs.AuditEvent
}

func auditEntryOf(e *structs.AuditEvent) auditEntry {
	return auditEntry{ns: unixNanos(e.Time), seq: e.Seq, e: e}
}

// tenant is the entry's event's tenant.
func (k auditEntry) tenant() string { return k.e.Tenant }

func byTime(a, b auditEntry) bool {
	if a.ns != b.ns {
		return a.ns < b.ns
	}
	return a.seq < b.seq
}

func byTenantTime(a, b auditEntry) bool {
	if c := strings.Compare(a.tenant(), b.tenant()); c != 0 {
		return c < 0
	}
	return byTime(a, b)
}

// auditTrail is the stored audit events under the orders their readers
// need.
type auditTrail struct {
	auditIDs    cowTree[*structs.AuditEvent] // by ID: lookups, snapshots
	auditTime   cowTree[auditEntry]          // by time, Seq: QueryAudit, retention, ListAudit
	auditTenant cowTree[auditEntry]          // by tenant, time, Seq: a tenant's QueryAudit and ListAudit (events with a tenant)
	// tail is the events appended last, in apply order, in neither tree
	// by time yet; its array is shared with other versions and only
	// appended to (auditindex.go).
	tail []auditEntry
	gen  uint64 // the transaction that owns this copy (cow.go)
	// No tree is kept by Seq: every submission would write it, on every
	// replica, for ListAudit alone, which no production code calls; it
	// walks the trees by time (store_records.go).
}

func newAuditTrail() *auditTrail {
	return &auditTrail{
		auditIDs:    newCowTree(auditIDLess),
		auditTime:   newCowTree(byTime),
		auditTenant: newCowTree(byTenantTime),
	}
}

// addAudit stores an audit event, replacing one with its ID.
func (a *auditTrail) addAudit(e *structs.AuditEvent) {
	if old := a.audit(e.ID); old != nil {
		a.delAudit(old)
	}
	a.auditIDs.w(a.gen).ReplaceOrInsert(e)
	a.appendTail(auditEntryOf(e))
}

// delAudit removes a stored event (the object addAudit was given).
func (a *auditTrail) delAudit(e *structs.AuditEvent) {
	a.auditIDs.w(a.gen).Delete(e)
	a.delOrdered(auditEntryOf(e))
}

// audit is the stored event with the ID, nil if none.
func (a *auditTrail) audit(id string) *structs.AuditEvent {
	e, _ := a.auditIDs.getFunc(func(e *structs.AuditEvent) int { return strings.Compare(e.ID, id) })
	return e
}
