package state

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

func replica(id, host string) *structs.Replica {
	return &structs.Replica{ID: id, RaftAddress: host + ":7000", APIAddress: "http://" + host + ":8080"}
}

func TestReplicaDirectory(t *testing.T) {
	s := newStore(t)
	write(t, s, 5, func(w *WriteTxn) error {
		return must(w.UpsertReplica(replica("hub1", "10.0.0.2")), w.UpsertReplica(replica("hub0", "10.0.0.1")))
	})
	if got := s.Index(TableReplicas); got != 5 {
		t.Errorf("replicas index %d, want 5", got)
	}
	all, err := s.Read().Replicas()
	if err != nil {
		t.Fatal(err)
	}
	want := []*structs.Replica{replica("hub0", "10.0.0.1"), replica("hub1", "10.0.0.2")}
	for _, r := range want {
		r.RaftIndex = structs.RaftIndex{CreateIndex: 5, ModifyIndex: 5}
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("replicas (-want +got):\n%s", diff)
	}

	// Moving keeps the create index; taking another replica's address is refused.
	write(t, s, 6, func(w *WriteTxn) error { return w.UpsertReplica(replica("hub1", "10.0.0.3")) })
	got, err := s.Read().Replica("hub1")
	if err != nil || got.RaftAddress != "10.0.0.3:7000" || got.CreateIndex != 5 || got.ModifyIndex != 6 {
		t.Errorf("moved replica = %+v, %v", got, err)
	}
	tests := map[string]struct {
		rep  *structs.Replica
		kind error
	}{
		"raft address taken": {&structs.Replica{ID: "hub2", RaftAddress: "10.0.0.1:7000", APIAddress: "http://h2:8080"}, structs.ErrConflict},
		"api address taken":  {&structs.Replica{ID: "hub2", RaftAddress: "h2:7000", APIAddress: "http://10.0.0.3:8080"}, structs.ErrConflict},
		"no id":              {&structs.Replica{RaftAddress: "h2:7000", APIAddress: "http://h2:8080"}, structs.ErrInvalid},
		"no raft port":       {&structs.Replica{ID: "hub2", RaftAddress: "h2", APIAddress: "http://h2:8080"}, structs.ErrInvalid},
		"unspecified host":   {&structs.Replica{ID: "hub2", RaftAddress: "0.0.0.0:7000", APIAddress: "http://h2:8080"}, structs.ErrInvalid},
		"api not a url":      {&structs.Replica{ID: "hub2", RaftAddress: "h2:7000", APIAddress: "h2:8080"}, structs.ErrInvalid},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := persist(t, s)
			w := s.Write(7)
			err := w.UpsertReplica(tc.rep)
			w.Abort()
			if !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v, want %v", err, tc.kind)
			}
			if !bytes.Equal(before, persist(t, s)) {
				t.Error("refused upsert changed the store")
			}
		})
	}

	snap := persist(t, s)
	r := newStore(t)
	if err := r.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if again := persist(t, r); !bytes.Equal(snap, again) {
		t.Fatalf("restored snapshot differs:\n%s", cmp.Diff(string(snap), string(again)))
	}

	write(t, s, 8, func(w *WriteTxn) error { return w.DeleteReplica("hub0") })
	if _, err := s.Read().Replica("hub0"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("deleted replica: %v", err)
	}
	w := s.Write(9)
	defer w.Abort()
	if err := w.DeleteReplica("hub0"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("delete unknown: %v", err)
	}
}

// TestSnapshotOmitsEmptyReplicas: a store that never used the replica
// directory snapshots as before the table existed; once used, the table
// is in the snapshot.
func TestSnapshotOmitsEmptyReplicas(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	if snap := string(persist(t, s)); strings.Contains(snap, `"table":"replicas"`) {
		t.Errorf("empty replica table in the snapshot:\n%s", snap)
	}
	write(t, s, 90, func(w *WriteTxn) error { return w.UpsertReplica(replica("hub0", "h0")) })
	if snap := string(persist(t, s)); !strings.Contains(snap, `{"table":"replicas","count":1}`) {
		t.Errorf("replica table missing from the snapshot:\n%s", snap)
	}
}
