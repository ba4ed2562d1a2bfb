package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestGatedCommandsWaitForEveryReplica: while a replica in the directory
// runs a binary that does not list a command type added since replicas
// list what they apply (a rolling upgrade), the hub does not write that
// type: a submit's audit event goes in an entry of its own instead of
// JobAudited, and an array task cancel (JobCancelTasks) is refused with
// 409 and changes nothing. Once the replica lists them, both are written.
func TestGatedCommandsWaitForEveryReplica(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(c.URLs(), c.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.CloseIdleConnections)
	keys := seedSubmitters(ctx, t, admin, "alice")
	alice, err := client.New(c.URLs(), keys["alice"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(alice.CloseIdleConnections)
	h := c.Hub(0)
	listOld := func(commands string) {
		t.Helper()
		rep := structs.Replica{ID: "old", RaftAddress: "127.0.0.1:1", APIAddress: "http://127.0.0.1:1", Commands: commands}
		if _, err := h.Write(ctx, &fsm.ReplicaUpsert{Replica: rep}); err != nil {
			t.Fatal(err)
		}
	}
	submit := func() (*structs.Job, *structs.AuditEvent) {
		t.Helper()
		j, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", Command: "run", MachineType: "c16", Nodes: 1,
			Array: &structs.ArraySpec{Start: 1, End: 100}})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := admin.Audit(ctx, client.AuditQuery{Object: "job/" + j.ID})
		if err != nil || len(evs) != 1 {
			t.Fatalf("audit events of job %s: %+v, %v", j.ID, evs, err)
		}
		return j, evs[0]
	}

	// A replica of an older release: it lists nothing.
	listOld("")
	j, ev := submit()
	if ev.CreateIndex == j.CreateIndex {
		t.Errorf("with an older replica listed, the submit's event shares the job's entry %d (JobAudited written)", j.CreateIndex)
	}
	_, err = alice.CancelTasks(ctx, j.ID, "17,42")
	var he *client.APIError
	if !errors.As(err, &he) || he.Status != http.StatusConflict || !strings.Contains(err.Error(), "rolling upgrade") {
		t.Fatalf("cancel of tasks with an older replica listed: %v, want 409 naming the rolling upgrade", err)
	}
	if got, err := alice.GetJob(ctx, j.ID, true); err != nil || got.Array == nil || got.Array.CancelTasks != "" {
		t.Fatalf("refused cancel changed the job: %+v, %v", got, err)
	}

	// The replica is upgraded: it lists this release's commands.
	listOld(fsm.KnownCommands())
	j2, ev2 := submit()
	if ev2.CreateIndex != j2.CreateIndex {
		t.Errorf("with every replica upgraded, the submit's event is at %d, the job at %d: want one entry", ev2.CreateIndex, j2.CreateIndex)
	}
	got, err := alice.CancelTasks(ctx, j2.ID, "17,42")
	if err != nil || got.Array == nil || got.Array.CancelTasks == "" {
		t.Fatalf("cancel of tasks with every replica upgraded: %+v, %v", got, err)
	}
}
