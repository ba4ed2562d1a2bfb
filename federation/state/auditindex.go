package state

import (
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The audit trail's orders by time: a B-tree by (time, Seq), a B-tree by
// (tenant, time, Seq), and in front of both a tail of the events appended
// last, in apply order. Every audited submission appends an event on every
// replica; in the B-trees alone each transaction copied both trees'
// rightmost paths (a node of 40-byte entries with two pointers each, at
// every level) and cloned both trees. An append here writes one slot of
// the tail's array; every auditTailCap appends, one transaction moves the
// whole tail into the trees (one clone and one path copy per tree for
// auditTailCap events) and starts a new array.
//
// The tail's array is shared between versions. A version's tail is a
// slice of it (len: the events it holds), and a transaction appends in
// place, at the slot past its version's last event: readers of older
// versions hold shorter slices and never read that slot. This is safe
// because the versions form a chain: exactly one write transaction is
// open at a time (Store.Write), it starts from the published version, and
// a version that is not published again (an aborted transaction's) is
// dropped whole, so the next append to the same slot overwrites only what
// no one can read. A tail is never changed below its length: a deletion
// of an event still in the tail first moves the tail into the trees
// (flush), in that transaction's own clones.
//
// The time an event carries is stamped by the replica that took the
// request, so the apply order is not quite the time order: the tail is
// not sorted, and a reader sorts the tail's events it selects (at most
// auditTailCap) and merges them with its walk of a tree.

// auditTailCap is the tail's capacity: the events a transaction moves
// into the trees at once, and the most a reader sorts.
const auditTailCap = 256

// appendTail stores an event's entry in the tail, first moving a full
// tail into the trees.
func (a *auditTrail) appendTail(k auditEntry) {
	if len(a.tail) == cap(a.tail) {
		a.flushTail()
	}
	a.tail = append(a.tail, k)
}

// flushTail moves the tail's events into the trees (the transaction's own
// clones) and gives the trail a new, empty tail array: the old one stays
// with the versions that share it.
func (a *auditTrail) flushTail() {
	if len(a.tail) > 0 {
		byT, byTenant := a.auditTime.w(a.gen), a.auditTenant.w(a.gen)
		for _, k := range a.tail {
			byT.ReplaceOrInsert(k)
			if k.tenant() != "" {
				byTenant.ReplaceOrInsert(k)
			}
		}
	}
	a.tail = make([]auditEntry, 0, auditTailCap)
}

// delOrdered removes an event's entry from the orders by time, wherever
// it is: the trees, or the tail (which is then moved into the trees
// first, so that no version's tail changes).
func (a *auditTrail) delOrdered(k auditEntry) {
	if _, ok := a.auditTime.w(a.gen).Delete(k); !ok {
		if !a.inTail(k) {
			return
		}
		a.flushTail()
		a.auditTime.w(a.gen).Delete(k)
	}
	if k.tenant() != "" {
		a.auditTenant.w(a.gen).Delete(k)
	}
}

// inTail reports whether the tail holds the entry.
func (a *auditTrail) inTail(k auditEntry) bool {
	for _, t := range a.tail {
		if t.ns == k.ns && t.seq == k.seq {
			return true
		}
	}
	return false
}

// tailFrom is the tail's entries of a tenant ("": all) at or after Unix
// nanosecond ns, in (time, Seq) order; nil if none.
func (a *auditTrail) tailFrom(tenant string, ns uint64) []auditEntry {
	var out []auditEntry
	for _, k := range a.tail {
		if k.ns >= ns && (tenant == "" || k.tenant() == tenant) {
			out = append(out, k)
		}
	}
	if len(out) > 1 {
		slices.SortFunc(out, cmpTime)
	}
	return out
}

func cmpTime(a, b auditEntry) int {
	switch {
	case byTime(a, b):
		return -1
	case byTime(b, a):
		return 1
	}
	return 0
}

// eachAudit calls fn on the events of a tenant ("": all) at or after
// Unix nanosecond ns, in (time, Seq) order, until fn returns false: the
// tree's walk merged with the tail's events.
func (a *auditTrail) eachAudit(tenant string, ns uint64, fn func(*structs.AuditEvent) bool) {
	pend := a.tailFrom(tenant, ns)
	stopped := false
	// emit calls fn on the tail's events before k; false: fn said stop.
	emit := func(k auditEntry) bool {
		for len(pend) > 0 && byTime(pend[0], k) {
			if !fn(pend[0].e) {
				stopped = true
				return false
			}
			pend = pend[1:]
		}
		if !fn(k.e) {
			stopped = true
			return false
		}
		return true
	}
	if tenant == "" {
		a.auditTime.AscendGreaterOrEqual(auditEntry{ns: ns}, emit)
	} else {
		pivot := auditEntry{ns: ns, e: &structs.AuditEvent{Tenant: tenant}}
		a.auditTenant.AscendGreaterOrEqual(pivot, func(k auditEntry) bool {
			return k.tenant() == tenant && emit(k)
		})
	}
	if stopped {
		return
	}
	for _, k := range pend {
		if !fn(k.e) {
			return
		}
	}
}

// oldestAudit is the event first in (time, Seq) order, nil if none.
func (a *auditTrail) oldestAudit() *structs.AuditEvent {
	first, ok := a.auditTime.Min()
	for _, k := range a.tail {
		if !ok || byTime(k, first) {
			first, ok = k, true
		}
	}
	return first.e
}
