package api_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestAuditFoldedIntoJobWrite: a job submitted or cancelled through the
// leader stores its audit event in the same raft entry as the job change
// (one write per call, not two); through a follower, and for calls that
// fail, the event is written on its own. Every call leaves exactly one
// event either way.
func TestAuditFoldedIntoJobWrite(t *testing.T) {
	c := hubtest.New(t, 3, hubtest.Options{NoSync: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leader, err := c.WaitReady(ctx)
	if err != nil {
		t.Fatal(err)
	}
	follower := (leader + 1) % c.N()
	clientAt := func(i int, key string) *client.Client {
		cl, err := client.New([]string{c.URL(i)}, key, client.WithRetryTimeout(20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.CloseIdleConnections)
		return cl
	}
	admin := clientAt(leader, c.AdminKey)
	keys := seedSubmitters(ctx, t, admin, "alice", "bob")
	aliceKey, bobKey := keys["alice"], keys["bob"]
	alice, aliceApart, bob := clientAt(leader, aliceKey), clientAt(follower, aliceKey), clientAt(leader, bobKey)
	eventsOf := func(q client.AuditQuery) []*structs.AuditEvent {
		t.Helper()
		evs, err := admin.Audit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	req := structs.JobSubmitRequest{App: "pub", Command: "run", MachineType: "c16", Nodes: 1}

	// Through the leader: the job and its event in one entry.
	j1, err := alice.SubmitJob(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	evs := eventsOf(client.AuditQuery{Object: "job/" + j1.ID})
	if len(evs) != 1 || evs[0].Action != "job.submit" || evs[0].Outcome != "ok" || evs[0].Actor != "alice" || evs[0].Tenant != "ta" {
		t.Fatalf("events of submitted job %s: %+v", j1.ID, evs)
	}
	if evs[0].CreateIndex != j1.CreateIndex {
		t.Errorf("submit: event at index %d, job at %d: not one entry", evs[0].CreateIndex, j1.CreateIndex)
	}
	j1c, err := alice.CancelJob(ctx, j1.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	evs = eventsOf(client.AuditQuery{Object: "job/" + j1.ID, Action: "job.cancel"})
	if len(evs) != 1 || evs[0].CreateIndex != j1c.ModifyIndex {
		t.Errorf("cancel: events %+v, job changed at index %d", evs, j1c.ModifyIndex)
	}

	// Through a follower: one event, written on its own.
	j2, err := aliceApart.SubmitJob(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if evs := eventsOf(client.AuditQuery{Object: "job/" + j2.ID}); len(evs) != 1 || evs[0].Outcome != "ok" {
		t.Errorf("events of job %s submitted through a follower: %+v", j2.ID, evs)
	}

	// A submission refused (the ID is alice's job): one error event, bob's.
	taken := req
	taken.ID = j2.ID
	if _, err := bob.SubmitJob(ctx, taken); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("bob submitting alice's job ID: %v, want a conflict", err)
	}
	evs = eventsOf(client.AuditQuery{Actor: "bob", Action: "job.submit"})
	if len(evs) != 1 || evs[0].Outcome != "error" || evs[0].Status != http.StatusConflict {
		t.Errorf("bob's refused submission: %+v", evs)
	}
	// Alice repeating her submission (same ID): the stored job, one more event.
	if j, err := alice.SubmitJob(ctx, taken); err != nil || j.Number != j2.Number {
		t.Fatalf("repeated submission: %+v, %v", j, err)
	}
	if evs := eventsOf(client.AuditQuery{Object: "job/" + j2.ID}); len(evs) != 2 {
		t.Errorf("events of job %s after a repeat: %d, want 2", j2.ID, len(evs))
	}
}
