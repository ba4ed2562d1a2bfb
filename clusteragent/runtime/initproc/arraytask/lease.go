package arraytask

import (
	"sort"
	"time"
)

// Leases. A worker owns the attempts granted to it for as long as it
// pulls at least once every LeaseTTL (a busy worker pulls as a heartbeat
// too). A worker silent for longer — its pod died, its node went away, or
// it is cut off — loses them: each becomes an expired attempt and is
// granted again, to any worker, ahead of tasks never started, without
// using up a task retry (a task lost MaxLostAttempts times is treated as
// failing: further losses use up its retries). A worker fences itself
// first: one that could not renew its leases for half the TTL kills its
// tasks (Fence in WorkerConfig), so an attempt is never running in two
// places at once as long as the two clocks run at about the same rate.
// When an expired worker pulls again it is told to kill what it still
// holds, and its late results are ignored: they are not the current
// attempt.

// MaxLostAttempts bounds the attempts of one task that may be lost with
// their worker without counting as failures.
const MaxLostAttempts = 3

// Expire ends the leases of every worker not heard from for LeaseTTL at
// time now and returns the records to journal. Workers known only from a
// journal replay (not seen since the restart) count as seen now: their
// clock starts with the restarted dispatcher. Pure: time is an input.
func (d *Dispatcher) Expire(now time.Time) []Record {
	if d.LeaseTTL <= 0 {
		return nil
	}
	var names []string
	for name, wk := range d.workers {
		if wk.seen.IsZero() {
			wk.seen = now
		}
		if !wk.gone && len(wk.running) > 0 && now.Sub(wk.seen) > d.LeaseTTL {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var recs []Record
	for _, name := range names {
		wk := d.workers[name]
		wk.gone = true
		var lost []Result
		for o := range wk.running {
			lost = append(lost, Result{Lease: Lease{Index: d.pos.Index(o), Attempt: d.tasks[o].attempts}, Exit: ExitLost, Expired: true})
		}
		sort.Slice(lost, func(i, j int) bool { return lost[i].Index < lost[j].Index })
		for _, r := range lost {
			if d.Record(r) {
				recs = append(recs, Record{Kind: RecEnd, Worker: name, Result: r})
			}
		}
	}
	return recs
}
