package state

import (
	"bytes"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestChangesCountsWritesPerTable: a commit bumps the change counter of
// the tables it wrote and of no other, an aborted or failed write bumps
// nothing, and a restore bumps every table.
func TestChangesCountsWritesPerTable(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	users, jobs, teams := s.Changes(TableUsers), s.Changes(TableJobs), s.Changes(TableTeams)
	if users == 0 || s.Changes("no such table") != 0 {
		t.Fatalf("after seeding: users %d, unknown table %d", users, s.Changes("no such table"))
	}
	submit(t, s, 10, "j-a", "acme", "alice", "n3")
	if s.Changes(TableJobs) != jobs+1 || s.Changes(TableUsers) != users || s.Changes(TableTeams) != teams {
		t.Fatalf("a submission: jobs %d→%d, users %d→%d, teams %d→%d", jobs, s.Changes(TableJobs),
			users, s.Changes(TableUsers), teams, s.Changes(TableTeams))
	}
	w := s.Write(11)
	if err := w.UpsertUser(&structs.User{Username: "zed", Tenant: "acme", Role: structs.RoleUser}, structs.CAS{}); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if s.Changes(TableUsers) != users {
		t.Fatalf("an aborted write bumped users: %d→%d", users, s.Changes(TableUsers))
	}
	write(t, s, 12, func(w *WriteTxn) error {
		return w.UpsertUser(&structs.User{Username: "zed", Tenant: "acme", Role: structs.RoleUser}, structs.CAS{})
	})
	if s.Changes(TableUsers) != users+1 {
		t.Fatalf("a user written: users %d→%d", users, s.Changes(TableUsers))
	}
	var snap bytes.Buffer
	if err := s.Snapshot().Persist(&snap); err != nil {
		t.Fatal(err)
	}
	before := s.Changes(TableTeams)
	if err := s.Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	if s.Changes(TableTeams) != before+1 || s.Changes(TableUsers) != users+2 {
		t.Fatalf("a restore: teams %d→%d, users %d→%d", before, s.Changes(TableTeams), users+1, s.Changes(TableUsers))
	}
}
