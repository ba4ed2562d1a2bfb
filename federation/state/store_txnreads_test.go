package state

import (
	"errors"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestOverlaySeesOwnWrites: the lookups by ID inside a write transaction
// (store_txnreads.go, live.go) see what the transaction itself wrote and
// deleted: a job submitted, cancelled, purged and submitted
// again under its ID in one transaction, and an audit event appended,
// purged and appended again.
func TestOverlaySeesOwnWrites(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	job := func() *structs.Job {
		return &structs.Job{ID: "j-x", Tenant: "acme", Owner: "alice", App: "solver", MachineType: "n3", Nodes: 1,
			State: structs.JobQueued, SubmitTime: t0}
	}
	w := s.Write(100)
	first, err := w.SubmitJob(job())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.SubmitJob(job()); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("second submit in the transaction: %v, want ErrConflict", err)
	}
	if _, err := w.CancelJob(&structs.JobCancel{ID: "j-x", Time: t0}); err != nil {
		t.Fatalf("cancel of a job submitted in the transaction: %v", err)
	}
	if n, err := w.PurgeJobs([]string{"j-x"}, true); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	again, err := w.SubmitJob(job())
	if err != nil {
		t.Fatalf("submit after purge in the transaction: %v", err)
	}
	if again.Number == first.Number {
		t.Errorf("resubmitted job has the purged job's number %d", again.Number)
	}
	ev := func() *structs.AuditEvent {
		return &structs.AuditEvent{ID: "ev-1", Time: t0, Actor: "alice", Tenant: "acme", Action: "job.submit", Outcome: "success"}
	}
	if _, err := w.AppendAudit(ev()); err != nil {
		t.Fatal(err)
	}
	if absent, err := w.AuditAbsent(ev()); err != nil || absent {
		t.Fatalf("event appended in the transaction: absent %v, %v", absent, err)
	}
	if n, err := w.PurgeAudit(t0.Add(time.Second), 10); err != nil || n != 1 {
		t.Fatalf("audit purge: %d, %v", n, err)
	}
	if absent, err := w.AuditAbsent(ev()); err != nil || !absent {
		t.Fatalf("event purged in the transaction: absent %v, %v", absent, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Read().Job("j-x")
	if err != nil || got.Number != again.Number || got.State != structs.JobQueued {
		t.Fatalf("stored job %+v, %v; want number %d, QUEUED", got, err, again.Number)
	}
	// A later transaction finds the job through its base.
	w = s.Write(101)
	defer w.Abort()
	if _, err := w.SubmitJob(job()); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("submit in a later transaction: %v, want ErrConflict", err)
	}
}
