package state

import (
	"fmt"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// metaEventsPruned is the meta row holding the raft index of the newest
// event dropped from the bounded event log (0: none dropped yet).
const metaEventsPruned = "events:pruned_index"

// jobChanged records that job n moved from state prev ("" for a new job)
// at time at: an event at the transaction's raft index, the oldest event
// dropped past structs.MaxEvents, and one webhook delivery for the job's
// callback URL and for every subscription the event matches. It depends
// only on the stored state, so Apply stays deterministic.
func (w *WriteTxn) jobChanged(n *structs.Job, prev structs.JobState, at time.Time) error {
	e := &structs.JobEvent{
		Seq: w.next(cEvents), Index: w.index, JobID: n.ID, Number: n.Number, Tenant: n.Tenant, Team: n.Team,
		Owner: n.Owner, App: n.App, State: n.State, Previous: prev, ExitCode: n.ExitCode, Time: at.UTC(), Trigger: n.Trigger,
	}
	if err := w.txn.Insert(TableEvents, e); err != nil {
		return fmt.Errorf("state: insert event: %w", err)
	}
	w.touch(tEvents)
	if e.Seq > structs.MaxEvents {
		old, err := w.eventBySeq(e.Seq - structs.MaxEvents)
		if err != nil {
			return fmt.Errorf("state: prune events: %w", err)
		}
		if old != nil {
			if err := w.txn.Delete(TableEvents, old); err != nil {
				return fmt.Errorf("state: prune events: %w", err)
			}
			if err := w.txn.Insert(tableMeta, &metaEntry{Key: metaEventsPruned, Value: old.Index}); err != nil {
				return fmt.Errorf("state: prune events: %w", err)
			}
		}
	}
	return w.enqueueDeliveries(n, e)
}

// enqueueDeliveries makes the webhook deliveries of event e of job n.
func (w *WriteTxn) enqueueDeliveries(n *structs.Job, e *structs.JobEvent) error {
	var ds []*structs.WebhookDelivery
	if n.CallbackURL != "" {
		ds = append(ds, &structs.WebhookDelivery{ID: fmt.Sprintf("%d-job", e.Seq), Tenant: n.Tenant, Owner: n.Owner, URL: n.CallbackURL})
	}
	subs, err := w.tenantSubscriptions(n.Tenant)
	if err != nil {
		return fmt.Errorf("state: subscriptions: %w", err)
	}
	for _, s := range subs {
		if s.Matches(e) {
			ds = append(ds, &structs.WebhookDelivery{ID: fmt.Sprintf("%d-%s", e.Seq, s.Name), Tenant: n.Tenant, Subscription: s.Name, URL: s.URL})
		}
	}
	for _, d := range ds {
		d.Seq, d.Event, d.State, d.NextAttempt = w.next(cDeliveries), *e, structs.DeliveryPending, e.Time
		if err := w.insert(tDeliveries, d, nil); err != nil {
			return err
		}
	}
	return nil
}

// EventsAfter returns the events applied after raft index since, oldest
// first: at most limit of them (0: no limit), but never part of an
// index's events — a page ends with the last event of an index, so
// resuming after it misses and repeats nothing. next is the index to
// resume after: the last event's, or since when there is none.
func (r *ReadTxn) EventsAfter(since uint64, limit int) (events []*structs.JobEvent, next uint64, err error) {
	from, err := r.firstEventSeqAfter(since)
	if err != nil {
		return nil, since, err
	}
	it, err := r.txn.LowerBound(TableEvents, "id", from)
	if err != nil {
		return nil, since, fmt.Errorf("state: events: %w", err)
	}
	next = since
	for raw := it.Next(); raw != nil; raw = it.Next() {
		e := raw.(*structs.JobEvent)
		if e.Index <= since {
			continue
		}
		if limit > 0 && len(events) >= limit && e.Index != next {
			break
		}
		events = append(events, e.Copy())
		next = e.Index
	}
	return events, next, nil
}

// firstEventSeqAfter finds where the events after raft index since start:
// a Seq at or below the first such event's and above every earlier
// event's. Events have no index of their own by raft index (one index
// tree less to write per job change): Seq grows with the raft index that
// wrote the event, so a binary search over Seq finds it, in O(log n)
// lookups, also across gaps in Seq.
func (r *ReadTxn) firstEventSeqAfter(since uint64) (uint64, error) {
	at := func(seq uint64) (*structs.JobEvent, error) { // the first event at or after seq
		it, err := r.txn.LowerBound(TableEvents, "id", seq)
		if err != nil {
			return nil, fmt.Errorf("state: events: %w", err)
		}
		e, _ := it.Next().(*structs.JobEvent)
		return e, nil
	}
	first, err := at(0)
	if err != nil || first == nil {
		return 0, err
	}
	last, err := r.txn.Last(TableEvents, "id")
	if err != nil {
		return 0, fmt.Errorf("state: events: %w", err)
	}
	lo, hi := first.Seq, last.(*structs.JobEvent).Seq+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		e, err := at(mid)
		if err != nil {
			return 0, err
		}
		if e == nil || e.Index > since {
			hi = mid
		} else {
			lo = e.Seq + 1
		}
	}
	return lo, nil
}

// EventsPrunedIndex is the raft index of the newest event dropped from the
// bounded log: a reader resuming after an older index may have missed
// events. 0 when none was dropped.
func (r *ReadTxn) EventsPrunedIndex() uint64 {
	raw, err := r.txn.First(tableMeta, "id", metaEventsPruned)
	if err != nil || raw == nil {
		return 0
	}
	return raw.(*metaEntry).Value
}

// OldestEventIndex is the raft index of the oldest event kept, 0 if none.
func (r *ReadTxn) OldestEventIndex() uint64 {
	raw, err := r.txn.First(TableEvents, "id")
	if err != nil || raw == nil {
		return 0
	}
	return raw.(*structs.JobEvent).Index
}
