package state

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// checkEventLog fails unless the log holds exactly want (in Seq order)
// and, with lookups, answers every lookup as a scan of want does.
func checkEventLog(t *testing.T, what string, l *eventLog, want []*structs.JobEvent, lookups bool) {
	t.Helper()
	var got []*structs.JobEvent
	l.eachEvent(0, func(e *structs.JobEvent) bool { got = append(got, e); return true })
	if !slices.Equal(got, want) || l.count() != len(want) {
		t.Fatalf("%s: log holds %v (count %d), want %v", what, seqsOfEvents(got), l.count(), seqsOfEvents(want))
	}
	if len(want) == 0 {
		if l.firstEvent() != nil || l.lastEvent() != nil || l.eventFrom(0) != nil {
			t.Fatalf("%s: an empty log has a first, last or from-0 event", what)
		}
		return
	}
	if l.firstEvent() != want[0] || l.lastEvent() != want[len(want)-1] {
		t.Fatalf("%s: first %v last %v, want %d and %d", what, l.firstEvent(), l.lastEvent(), want[0].Seq, want[len(want)-1].Seq)
	}
	for seq := want[0].Seq; lookups && seq <= want[len(want)-1].Seq+1; seq++ {
		i := slices.IndexFunc(want, func(e *structs.JobEvent) bool { return e.Seq >= seq })
		var w *structs.JobEvent
		if i >= 0 {
			w = want[i]
		}
		if got := l.eventFrom(seq); got != w {
			t.Fatalf("%s: eventFrom(%d) = %v, want %v", what, seq, got, w)
		}
		if seq%7 == 0 && i >= 0 { // a walk from here, stopped after three
			var walk []*structs.JobEvent
			l.eachEvent(seq, func(e *structs.JobEvent) bool { walk = append(walk, e); return len(walk) < 3 })
			if !slices.Equal(walk, want[i:min(len(want), i+3)]) {
				t.Fatalf("%s: eachEvent(%d) = %v", what, seq, seqsOfEvents(walk))
			}
		}
	}
}

func seqsOfEvents(es []*structs.JobEvent) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// TestEventLogQueueMatchesSlice: versions of the event log made as write
// transactions make them (a copy of the struct per transaction) take
// random appends (Seq up by one, or by a gap), drops of the oldest (the
// bound), drops from the middle, stores at or below the newest Seq (new
// and replacing) and aborts (a branch written and dropped, the next
// transaction writing the same slots); every version answers as a plain
// slice does, and every version kept from earlier still holds what it
// held.
func TestEventLogQueueMatchesSlice(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 17))
	type version struct {
		log  eventLog
		want []*structs.JobEvent
	}
	l := *newEventLog()
	var want []*structs.JobEvent
	var kept []version
	seq, ops, tx := uint64(0), map[string]int{}, 0
	// orig is what each event of a committed transaction held when it
	// was stored: a slab's slot written again (by a later or an aborted
	// transaction) changes an event some version holds.
	orig := map[*structs.JobEvent]structs.JobEvent{}
	checkValues := func(what string, want []*structs.JobEvent) {
		t.Helper()
		for _, e := range want {
			if o, ok := orig[e]; !ok || *e != o {
				t.Fatalf("%s: event %d holds %+v, stored as %+v", what, o.Seq, *e, o)
			}
		}
	}
	step := func(l *eventLog, want []*structs.JobEvent, n int, commit bool) []*structs.JobEvent {
		want = slices.Clone(want)
		for range n {
			switch r := rnd.IntN(100); {
			case r < 55 || len(want) == 0:
				seq++
				if rnd.IntN(20) == 0 {
					seq += uint64(rnd.IntN(5))
				}
				e := l.newEvent()
				*e = structs.JobEvent{Seq: seq, JobID: fmt.Sprintf("j%d", seq), Index: uint64(tx)}
				if commit {
					orig[e] = *e
				}
				l.addEvent(e)
				want = append(want, e)
				ops["append"]++
			case r < 90:
				if got := l.delEvent(want[0].Seq); got != want[0] {
					t.Fatalf("delEvent of the oldest %d = %v", want[0].Seq, got)
				}
				want = want[1:]
				ops["drop oldest"]++
			case r < 96:
				i := rnd.IntN(len(want))
				if got := l.delEvent(want[i].Seq); got != want[i] {
					t.Fatalf("delEvent(%d) = %v", want[i].Seq, got)
				}
				want = slices.Delete(want, i, i+1)
				ops["drop middle"]++
			case r < 98:
				if got := l.delEvent(seq + 10); got != nil {
					t.Fatalf("delEvent of an unknown Seq = %v", got)
				}
			default:
				i := rnd.IntN(len(want))
				e := l.newEvent()
				*e = structs.JobEvent{Seq: want[i].Seq, JobID: "again", Index: uint64(tx)}
				if rnd.IntN(2) == 0 && (i == 0 || want[i-1].Seq+1 < want[i].Seq) {
					e.Seq-- // a new Seq below the newest
					want = slices.Insert(want, i, e)
				} else {
					want[i] = e
				}
				if commit {
					orig[e] = *e
				}
				l.addEvent(e)
				ops["store below the newest"]++
			}
		}
		return want
	}
	for tx = range 1500 {
		if rnd.IntN(6) == 0 { // an aborted transaction
			branch := l
			step(&branch, want, 1+rnd.IntN(40), false)
			ops["abort"]++
		}
		next := l // the transaction's own copy of the struct (archive.own)
		want = step(&next, want, 1+rnd.IntN(40), true)
		l = next
		checkEventLog(t, fmt.Sprintf("transaction %d", tx), &l, want, tx%5 == 0)
		checkValues(fmt.Sprintf("transaction %d", tx), want)
		if rnd.IntN(40) == 0 {
			kept = append(kept, version{l, want})
		}
		if tx%100 == 99 {
			for i := range kept {
				checkEventLog(t, fmt.Sprintf("transaction %d, version %d kept", tx, i), &kept[i].log, kept[i].want, true)
				checkValues(fmt.Sprintf("transaction %d, version %d kept", tx, i), kept[i].want)
			}
		}
	}
	for _, op := range []string{"append", "drop oldest", "drop middle", "store below the newest", "abort"} {
		if ops[op] == 0 {
			t.Errorf("no %s", op)
		}
	}
	if len(kept) < 10 || seq < 10*eventChunk {
		t.Errorf("the run did not cover the log: %d versions kept, %d appended", len(kept), seq)
	}
	t.Logf("%v, %d versions kept, %d events at the end", ops, len(kept), len(want))
}
