package state

import (
	"bytes"
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

// TestAdmitCacheFollowsWrites: the admission reads kept from one write
// transaction to the next (admitCache) are used while the tables they
// were read from stay as they were, and never after a commit that
// changes one of them or a restore: a machine type deleted, a
// subscription added, a snapshot from before a machine type existed.
func TestAdmitCacheFollowsWrites(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	snap := persist(t, s)
	write(t, s, 10, func(w *WriteTxn) error {
		return w.UpsertMachineType(&structs.MachineType{Name: "n4", Cores: 8, Slots: 8, RAM: 32, Cluster: "east"}, structs.CAS{})
	})
	submitMT := func(index uint64, id, mt string) error {
		w := s.Write(index)
		defer w.Abort()
		if _, err := w.SubmitJob(&structs.Job{ID: id, Tenant: "acme", Owner: "alice", App: "solver",
			MachineType: mt, Nodes: 1, SubmitTime: t0}); err != nil {
			return err
		}
		return w.Commit()
	}
	for i, mt := range []string{"n3", "n4", "n3"} {
		if err := submitMT(uint64(11+i), jobID(i), mt); err != nil {
			t.Fatal(err)
		}
	}
	c := s.admit.Load()
	if c == nil || len(c.found) != 3 || len(c.subs) != 1 {
		t.Fatalf("after three submissions the store keeps %+v, want the tenant, two machine types and the tenant's subscriptions", c)
	}
	if w := s.Write(14); w.admit != c {
		t.Fatal("a new transaction does not start with the store's cache")
	} else {
		w.Abort()
	}

	// A subscription added: the next job change matches it.
	write(t, s, 20, func(w *WriteTxn) error {
		return w.UpsertSubscription(&structs.WebhookSubscription{Name: "all", Tenant: "acme", URL: "https://hooks.example/x", Secret: "0123456789abcdef0123"}, structs.CAS{})
	})
	if s.admit.Load() != nil {
		t.Fatal("a commit that wrote the subscriptions kept the cache")
	}
	if err := submitMT(21, jobID(10), "n3"); err != nil {
		t.Fatal(err)
	}
	if ds, err := s.Read().Deliveries(structs.DeliveryPending, 0); err != nil || len(ds) != 1 {
		t.Fatalf("deliveries after a submission matching the new subscription: %d, %v; want 1", len(ds), err)
	}

	// A machine type deleted: submissions on it are refused again.
	if err := submitMT(22, jobID(11), "n4"); err != nil {
		t.Fatal(err)
	}
	write(t, s, 23, func(w *WriteTxn) error { return w.DeleteMachineType("n4") })
	if err := submitMT(24, jobID(12), "n4"); !errors.Is(err, structs.ErrInvalid) {
		t.Fatalf("a submission on a deleted machine type: %v, want ErrInvalid", err)
	}

	// A restore from before n4 existed: refused too.
	write(t, s, 25, func(w *WriteTxn) error {
		return w.UpsertMachineType(&structs.MachineType{Name: "n4", Cores: 8, Slots: 8, RAM: 32, Cluster: "east"}, structs.CAS{})
	})
	if err := submitMT(26, jobID(13), "n4"); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if err := submitMT(27, jobID(14), "n4"); !errors.Is(err, structs.ErrInvalid) {
		t.Fatalf("a submission on a machine type the restored state lacks: %v, want ErrInvalid", err)
	}
}
