package state

import (
	"maps"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Reading an index inside a write transaction after writing to it costs
// the transaction its cache of copied nodes: go-memdb reads through a
// clone of the index's radix transaction, and cloning drops the cache
// (go-immutable-radix Txn.Clone), so the next insert copies its whole
// path again. The jobs, the audit trail and the job events are in the
// archive's B-trees now (live.go, archive.go, history.go), which a
// transaction reads in its own clone at no such cost; what a job change
// still reads from go-memdb on every submission, the tenant's webhook
// subscriptions, it reads through the transaction while it has not
// written them (an index it has not written is read as found, with no
// clone; tenantSubscriptions).

// storedJob is the stored job with the ID, in play or finished, as the
// transaction sees them; nil if none.
func (r *ReadTxn) storedJob(id string) *structs.Job {
	if j := r.ar.live.job(id); j != nil {
		return j
	}
	return r.ar.job(id)
}

// deleteJob removes a stored job (the object stored) and its entries.
func (w *WriteTxn) deleteJob(j *structs.Job) {
	if j.State.IsTerminal() {
		w.archiveW(partJobs).delJob(j)
	} else {
		w.archiveW(partLive).live.del(j)
	}
	w.touch(tJobs)
}

// refKey names a row of a table by a one-string ID.
type refKey struct {
	t  table
	id string
}

// mustExistCached is mustExist for a row with a one-string ID, which many
// commands of one transaction check (each submission its tenant and
// machine type): while the transaction has not written the table, a row
// found once is not looked up again.
func (w *WriteTxn) mustExistCached(t table, what, id string) error {
	if w.touched&(1<<t) != 0 {
		return w.mustExist(t, what, id)
	}
	k := refKey{t, id}
	if admitTables&(1<<t) != 0 && w.admit.has(k) {
		return nil
	}
	if _, ok := w.found[k]; ok {
		return nil
	}
	if err := w.mustExist(t, what, id); err != nil {
		return err
	}
	if w.found == nil {
		w.found = make(map[refKey]struct{})
	}
	w.found[k] = struct{}{}
	return nil
}

// tenantSubscriptions are the webhook subscriptions of a tenant (stored
// rows, not copies), which every job change matches its event against:
// read once per transaction while the transaction has not written
// subscriptions (cached in w.subs), at every call after. Both read
// through the transaction: while it has not written the subscriptions'
// index, go-memdb reads that index as the transaction found it, without
// the clone a written index costs, so no second read transaction of the
// store as found is needed.
func (w *WriteTxn) tenantSubscriptions(tenant string) ([]*structs.WebhookSubscription, error) {
	fresh := w.touched&(1<<tSubscriptions) == 0
	if subs, ok := w.admit.tenantSubs(tenant); ok && fresh {
		return subs, nil
	}
	if subs, ok := w.subs[tenant]; ok && fresh {
		return subs, nil
	}
	it, err := w.txn.Get(TableSubscriptions, "tenant", tenant)
	if err != nil {
		return nil, err
	}
	var subs []*structs.WebhookSubscription
	for raw := it.Next(); raw != nil; raw = it.Next() {
		subs = append(subs, raw.(*structs.WebhookSubscription))
	}
	if fresh {
		if w.subs == nil {
			w.subs = make(map[string][]*structs.WebhookSubscription)
		}
		w.subs[tenant] = subs
	}
	return subs, nil
}

// admitCache is what the transactions' admission reads found in go-memdb
// (the rows mustExistCached found, the tenants' subscriptions), kept from
// one write transaction to the next: every submission's transaction read
// them again, one memdb lookup (an iterator, three to five allocations)
// each and two maps a transaction, on every replica. It holds only while
// none of the tables it was read from changes: a commit that writes one
// of them drops it before its writes are visible to the next
// transaction, and a restore drops it with the memdb it was read from
// (gen: a transaction open across a restore may still publish one read
// from the old memdb, which no transaction of the new one uses). It is
// never changed once published: a transaction that finds more publishes
// a new one at its commit.
type admitCache struct {
	gen   *generation
	found map[refKey]struct{}
	subs  map[string][]*structs.WebhookSubscription
}

// admitTables are the tables the cache is read from.
const admitTables = 1<<tTenants | 1<<tMachineTypes | 1<<tSubscriptions

// has reports whether the cache holds row k as found (a nil cache holds
// nothing).
func (c *admitCache) has(k refKey) bool {
	if c == nil {
		return false
	}
	_, ok := c.found[k]
	return ok
}

// tenantSubs is the cache's subscriptions of a tenant, if it holds them.
func (c *admitCache) tenantSubs(tenant string) ([]*structs.WebhookSubscription, bool) {
	if c == nil {
		return nil, false
	}
	subs, ok := c.subs[tenant]
	return subs, ok
}

// keepAdmitted, at commit, before the writes are visible: drops the
// store's cache if the transaction wrote a table it is read from, else
// publishes it with what the transaction read that it did not hold. What
// the transaction read it read as it found the tables, which its commit
// does not change.
func (w *WriteTxn) keepAdmitted() {
	if w.touched&admitTables != 0 {
		w.store.admit.Store(nil)
		return
	}
	if len(w.found) == 0 && len(w.subs) == 0 {
		return
	}
	c := &admitCache{gen: w.gen, found: make(map[refKey]struct{}), subs: make(map[string][]*structs.WebhookSubscription)}
	if w.admit != nil {
		maps.Copy(c.found, w.admit.found)
		maps.Copy(c.subs, w.admit.subs)
	}
	for k := range w.found {
		if admitTables&(1<<k.t) != 0 { // the cache follows only its tables' writes
			c.found[k] = struct{}{}
		}
	}
	maps.Copy(c.subs, w.subs)
	w.store.admit.Store(c)
}
