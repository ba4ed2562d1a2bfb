package state

import (
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestEventLogBounded: past structs.MaxEvents the oldest events go, and
// the store says up to which index events were dropped, so a reader
// resuming from before it learns it missed some.
func TestEventLogBounded(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
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
