package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestEventLogBounded: past structs.MaxEvents the oldest events go, and
// the store says up to which index events were dropped, so a reader
// resuming from before it learns it missed some.
func TestEventLogBounded(t *testing.T) {
	s := eventsStore(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Two events per index: a submit and a cancel.
	const jobs = structs.MaxEvents/2 + 5
	for i := range jobs {
		w := s.Write(uint64(10 + i))
		j := &structs.Job{ID: "j" + string(rune('a'+i%26)) + time.Duration(i).String(), Tenant: "acme", Owner: "alice", App: "x",
			MachineType: "n1", Nodes: 1, State: structs.JobQueued, SubmitTime: t0}
		if _, err := w.SubmitJob(j); err != nil {
			t.Fatal(err)
		}
		if _, err := w.CancelJob(&structs.JobCancel{ID: j.ID, Time: t0}); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	r := s.Read()
	all, next, err := r.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != structs.MaxEvents || next != uint64(10+jobs-1) {
		t.Fatalf("%d events kept up to index %d, want %d up to %d", len(all), next, structs.MaxEvents, 10+jobs-1)
	}
	// 10 events dropped: those of indexes 10..14.
	if got := r.EventsPrunedIndex(); got != 14 {
		t.Errorf("pruned up to index %d, want 14", got)
	}
	if got := r.OldestEventIndex(); got != 15 {
		t.Errorf("oldest index kept %d, want 15", got)
	}
}

// TestEventsAfterEveryIndex: EventsAfter, which finds its start by binary
// search over Seq, returns for every resume point exactly the events a
// scan in Seq order keeps, across indexes with 0 to 3 events and gaps in
// the raft indexes, with and without a page limit.
func TestEventsAfterEveryIndex(t *testing.T) {
	s := eventsStore(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	index, n := uint64(5), 0
	for i := range 60 {
		index += uint64(1 + i%3) // gaps between the indexes that wrote events
		w := s.Write(index)
		for range i % 4 { // 0 to 3 events at this index
			n++
			j := &structs.Job{ID: fmt.Sprintf("j-%d", n), Tenant: "acme", Owner: "alice", App: "x",
				MachineType: "n1", Nodes: 1, State: structs.JobQueued, SubmitTime: t0}
			if _, err := w.SubmitJob(j); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	all, _, err := s.Read().EventsAfter(0, 0)
	if err != nil || len(all) != n {
		t.Fatalf("%d events (%v), want %d", len(all), err, n)
	}
	for since := uint64(0); since <= index+1; since++ {
		for _, limit := range []int{0, 1, 2, 5} {
			got, next, err := s.Read().EventsAfter(since, limit)
			if err != nil {
				t.Fatal(err)
			}
			var want []*structs.JobEvent
			wantNext := since
			for _, e := range all {
				if e.Index <= since {
					continue
				}
				if limit > 0 && len(want) >= limit && e.Index != wantNext {
					break
				}
				want = append(want, e)
				wantNext = e.Index
			}
			if diff := cmp.Diff(want, got); diff != "" || next != wantNext {
				t.Fatalf("since %d limit %d: next %d want %d; events (-want +got):\n%s", since, limit, next, wantNext, diff)
			}
		}
	}
}

// eventsStore is a store holding tenant acme and machine type n1 (written
// at index 1), ready for jobs whose events the tests read.
func eventsStore(t *testing.T) *Store {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	w := s.Write(1)
	if err := w.UpsertTenant(&structs.Tenant{Name: "acme"}, structs.CAS{}); err != nil {
		t.Fatal(err)
	}
	if err := w.UpsertMachineType(&structs.MachineType{Name: "n1", Cores: 1}, structs.CAS{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return s
}
