package state

import (
	"fmt"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// metaEventsPruned is the key of the meta row holding the raft index of
// the newest event dropped from the bounded event log (0: none dropped
// yet; indexes.go).
const metaEventsPruned = "events:pruned_index"

// jobChanged records that job n moved from state prev ("" for a new job)
// at time at: an event at the transaction's raft index, the oldest event
// dropped past structs.MaxEvents, and one webhook delivery for the job's
// callback URL and for every subscription the event matches. It depends
// only on the stored state, so Apply stays deterministic.
func (w *WriteTxn) jobChanged(n *structs.Job, prev structs.JobState, at time.Time) error {
	log := w.archiveW(partEvents)
	e := log.newEvent()
	*e = structs.JobEvent{
		Seq: w.next(cEvents), Index: w.index, JobID: n.ID, Number: n.Number, Tenant: n.Tenant, Team: n.Team,
		Owner: n.Owner, App: n.App, State: n.State, Previous: prev, ExitCode: n.ExitCode, Time: at.UTC(), Trigger: n.Trigger,
	}
	log.addEvent(e)
	w.touch(tEvents)
	if e.Seq > structs.MaxEvents {
		if old := log.delEvent(e.Seq - structs.MaxEvents); old != nil {
			w.pruned = old.Index
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
	next = since
	r.ar.eachEvent(r.firstEventSeqAfter(since), func(e *structs.JobEvent) bool {
		if e.Index <= since {
			return true
		}
		if limit > 0 && len(events) >= limit && e.Index != next {
			return false
		}
		events = append(events, e.Copy())
		next = e.Index
		return true
	})
	return events, next, nil
}

// firstEventSeqAfter finds where the events after raft index since start:
// a Seq at or below the first such event's and above every earlier
// event's. Events are kept by Seq only (history.go): Seq grows with the
// raft index that wrote the event, so a binary search over Seq finds it,
// in O(log n) lookups, also across gaps in Seq.
func (r *ReadTxn) firstEventSeqAfter(since uint64) uint64 {
	first, last := r.ar.firstEvent(), r.ar.lastEvent()
	if first == nil {
		return 0
	}
	lo, hi := first.Seq, last.Seq+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if e := r.ar.eventFrom(mid); e == nil || e.Index > since {
			hi = mid
		} else {
			lo = e.Seq + 1
		}
	}
	return lo
}

// EventsPrunedIndex is the raft index of the newest event dropped from the
// bounded log: a reader resuming after an older index may have missed
// events. 0 when none was dropped. A write transaction records the events
// it drops at its commit: its own reads see the value as it found it.
func (r *ReadTxn) EventsPrunedIndex() uint64 {
	return r.ar.meta.get(metaPruned)
}

// OldestEventIndex is the raft index of the oldest event kept, 0 if none.
func (r *ReadTxn) OldestEventIndex() uint64 {
	if e := r.ar.firstEvent(); e != nil {
		return e.Index
	}
	return 0
}
