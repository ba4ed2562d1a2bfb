package state

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Reading an index inside a write transaction after writing to it costs
// the transaction its cache of copied nodes: go-memdb reads through a
// clone of the index's radix transaction, and cloning drops the cache
// (go-immutable-radix Txn.Clone), so the next insert copies its whole
// path again instead of reusing what the previous inserts copied. A raft
// entry of 22 submissions read the jobs' "id" index before each insert
// (the audit events' and the event log's, read the same way, are in the
// archive now: history.go).
//
// So the hot lookups by ID read the store as the transaction found it
// (base, a read transaction) under what the transaction itself wrote to
// the jobs table (overlay): every insert into jobs and every delete from
// it goes through insert, deleted, and is noted here.

// overlaid are the tables whose rows by ID the overlay tracks.
func overlaid(t table) bool { return t == tJobs }

// idKey names a row of an overlaid table.
type idKey struct {
	t  table
	id string
}

// rowID is the ID of a row of an overlaid table.
func rowID(obj any) string {
	if j, ok := obj.(*structs.Job); ok {
		return j.ID
	}
	return ""
}

// note records that the transaction stored obj (nil: deleted the row id)
// in table t.
func (w *WriteTxn) note(t table, id string, obj any) {
	if w.overlay == nil {
		w.overlay = make(map[idKey]any)
	}
	w.overlay[idKey{t, id}] = obj
}

// deleted removes obj from table t and notes it.
func (w *WriteTxn) deleted(t table, obj any) error {
	if j, ok := obj.(*structs.Job); ok && j.State.IsTerminal() {
		w.archiveW(partJobs).delJob(j)
	} else if err := w.txn.Delete(t.name(), obj); err != nil {
		return err
	}
	if overlaid(t) {
		w.note(t, rowID(obj), nil)
	}
	w.touch(t)
	return nil
}

// byID is rawByID(w.txn, t, id) for an overlaid table, without reading
// the transaction's own index: nil when there is no such row.
func (w *WriteTxn) byID(t table, id string) (any, error) {
	if obj, ok := w.overlay[idKey{t, id}]; ok {
		return obj, nil
	}
	raw, err := rawByID(w.base, t.name(), id)
	if raw != nil || err != nil || t != tJobs {
		return raw, err
	}
	if j := w.ar.job(id); j != nil {
		return j, nil
	}
	return nil, nil
}

// tenantSubscriptions are the webhook subscriptions of a tenant (stored
// rows, not copies), which every job change matches its event against:
// read once per transaction from the base while the transaction has not
// written subscriptions, through the transaction after.
func (w *WriteTxn) tenantSubscriptions(tenant string) ([]*structs.WebhookSubscription, error) {
	fresh := w.touched&(1<<tSubscriptions) == 0
	if subs, ok := w.subs[tenant]; ok && fresh {
		return subs, nil
	}
	txn := w.txn
	if fresh {
		txn = w.base
	}
	it, err := txn.Get(TableSubscriptions, "tenant", tenant)
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
