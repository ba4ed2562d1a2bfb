package hub_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestArrayListGatedInRollingUpgrade: while a replica in the directory
// runs a binary that does not apply JobSubmitArrayList (one that applies
// JobSubmitExt, but whose array codec refuses lists), an array job with
// an index list is refused (409 naming the command, nothing stored) and a
// single-range one is not; once every replica applies it, the list is
// stored as submitted.
func TestArrayListGatedInRollingUpgrade(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	f := seed(t, c)
	ctx := ctxFor(t, 60*time.Second)
	alice := newClient(t, c, f.Key)
	old := &fsm.ReplicaUpsert{Replica: structs.Replica{ID: "old-binary", RaftAddress: "127.0.0.1:1", APIAddress: "http://127.0.0.1:1",
		Commands: "1-33,41-42,60-71,80,95-96,100"}}
	if _, err := c.Hub(0).Write(ctx, old); err != nil {
		t.Fatal(err)
	}
	array := func(id, spec string) structs.JobSubmitRequest {
		r := f.job(id)
		a, err := structs.ParseArraySpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		r.Array = &a
		return r
	}
	if j, err := alice.SubmitJob(ctx, array("gate-range", "1-9%2")); err != nil || j.Array == nil || j.Array.Spec.String() != "1-9%2" {
		t.Fatalf("a single range during the upgrade: %+v, %v", j, err)
	}
	if j, err := alice.SubmitJob(ctx, array("gate-joined", "1-5,6-9")); err != nil || j.Array.Spec.IsList() {
		t.Fatalf("a list that is one range during the upgrade: %+v, %v", j, err)
	}
	r := array("gate-list", "1,3,7-9%2")
	_, err := alice.SubmitJob(ctx, r)
	if !errors.Is(err, structs.ErrConflict) || !strings.Contains(err.Error(), "JobSubmitArrayList") {
		t.Errorf("a list during the upgrade: %v, want 409 naming JobSubmitArrayList", err)
	}
	if _, err := alice.GetJob(ctx, r.ID, true); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("refused, yet stored: %v", err)
	}
	if _, err := c.Hub(0).Write(ctx, &fsm.ReplicaDelete{ID: "old-binary"}); err != nil {
		t.Fatal(err)
	}
	j, err := alice.SubmitJob(ctx, r)
	if err != nil || j.Array == nil || j.Array.Spec.String() != "1,3,7-9%2" || j.Array.Spec.Count() != 5 {
		t.Fatalf("after the upgrade: %+v, %v", j, err)
	}
	got, err := alice.GetJob(ctx, r.ID, true)
	if err != nil || got.Array.Spec.String() != "1,3,7-9%2" {
		t.Fatalf("read back: %+v, %v", got, err)
	}
}
