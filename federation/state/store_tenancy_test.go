package state

import (
	"errors"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// try runs fn in a write transaction at index: committed if it succeeds,
// aborted (changing nothing) if not; it returns fn's error.
func try(t *testing.T, s *Store, index uint64, fn func(w *WriteTxn) error) error {
	t.Helper()
	w := s.Write(index)
	if err := fn(w); err != nil {
		w.Abort()
		return err
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return nil
}

func teamsOf(t *testing.T, s *Store, user string) []string {
	t.Helper()
	u, err := s.Read().User(user)
	if err != nil {
		t.Fatal(err)
	}
	return u.Teams
}

func membersOf(t *testing.T, s *Store, tenant, team string) []string {
	t.Helper()
	tm, err := s.Read().Team(tenant, team)
	if err != nil {
		t.Fatal(err)
	}
	return tm.Members
}

// TestTeamMembership: a team's members are the users whose Teams name
// it; a write listing members sets them on the users in one transaction,
// only if every user it changes is as the writer read it; deleting a team
// with DeleteTeamAndMembership takes it off its members; an old-style
// write's members are stored but never read.
func TestTeamMembership(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	if got := membersOf(t, s, "acme", "cfd"); !cmp.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("derived members %v", got)
	}
	write(t, s, 10, func(w *WriteTxn) error {
		return w.UpsertUser(&structs.User{Username: "dan", Tenant: "acme", Role: structs.RoleUser}, structs.CAS{})
	})
	user := func(name string) *structs.User {
		u, err := s.Read().User(name)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	alice, dan := user("alice"), user("dan")
	cfd := func(members ...string) *structs.Team {
		return &structs.Team{Tenant: "acme", Name: "cfd", Members: members, Admins: []string{"bob"}}
	}
	refusals := map[string]struct {
		team *structs.Team
		cas  map[string]uint64
		want error
	}{
		"user of another tenant":        {cfd("bob", "carol"), nil, structs.ErrInvalid},
		"unknown user":                  {cfd("bob", "nobody"), nil, structs.ErrInvalid},
		"listed twice":                  {cfd("bob", "bob"), nil, structs.ErrInvalid},
		"changed user not expected":     {cfd("bob", "dan"), map[string]uint64{"dan": dan.ModifyIndex}, structs.ErrConflict},
		"changed user read at an index": {cfd("bob", "dan"), map[string]uint64{"alice": alice.ModifyIndex, "dan": 1}, structs.ErrConflict},
	}
	for name, tc := range refusals {
		before := s.LatestIndex()
		err := try(t, s, 11, func(w *WriteTxn) error { return w.UpsertTeamMembers(tc.team, structs.CAS{}, tc.cas) })
		if !errors.Is(err, tc.want) || s.LatestIndex() != before {
			t.Errorf("%s: %v (index %d -> %d), want %v and no change", name, err, before, s.LatestIndex(), tc.want)
		}
	}
	var stored structs.RaftIndex
	if err := try(t, s, 12, func(w *WriteTxn) error {
		err := w.UpsertTeamMembers(cfd("bob", "dan"), structs.CAS{}, map[string]uint64{"alice": alice.ModifyIndex, "dan": dan.ModifyIndex})
		stored = w.Inserted()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := membersOf(t, s, "acme", "cfd"); !cmp.Equal(got, []string{"bob", "dan"}) {
		t.Errorf("members %v, want bob and dan", got)
	}
	if len(teamsOf(t, s, "alice")) != 0 || !cmp.Equal(teamsOf(t, s, "dan"), []string{"cfd"}) || user("bob").ModifyIndex == 12 {
		t.Errorf("alice %v, dan %v; bob rewritten: %v", teamsOf(t, s, "alice"), teamsOf(t, s, "dan"), user("bob").ModifyIndex == 12)
	}
	if tm, _ := s.Read().Team("acme", "cfd"); stored != tm.RaftIndex {
		t.Errorf("Inserted %+v, want the team's %+v", stored, tm.RaftIndex)
	}

	// An old-style write stores its members, which no read shows.
	write(t, s, 13, func(w *WriteTxn) error {
		return w.UpsertTeam(&structs.Team{Tenant: "acme", Name: "cfd", Members: []string{"alice"}}, structs.CAS{})
	})
	if got := membersOf(t, s, "acme", "cfd"); !cmp.Equal(got, []string{"bob", "dan"}) {
		t.Errorf("members after an old-style write %v, want bob and dan", got)
	}

	write(t, s, 14, func(w *WriteTxn) error { return w.DeleteTeamAndMembership("acme", "cfd") })
	if _, err := s.Read().Team("acme", "cfd"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("team after delete: %v", err)
	}
	if len(teamsOf(t, s, "bob")) != 0 || len(teamsOf(t, s, "dan")) != 0 {
		t.Errorf("teams after delete: bob %v, dan %v", teamsOf(t, s, "bob"), teamsOf(t, s, "dan"))
	}
	if err := try(t, s, 15, func(w *WriteTxn) error { return w.DeleteTeamAndMembership("acme", "cfd") }); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("delete again: %v", err)
	}
}

// TestIDRanges: tenants' id ranges never overlap; a ranged tenant's
// users have their uid and gid in its range, each uid once, a gid only
// shared under one group name; no user holds an id in another tenant's
// range; a range is refused while users do not fit it.
func TestIDRanges(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	tenant := func(name string, lo, hi int) func(w *WriteTxn) error {
		return func(w *WriteTxn) error {
			return w.UpsertTenant(&structs.Tenant{Name: name, IDRange: structs.IDRange{Min: lo, Max: hi}}, structs.CAS{})
		}
	}
	userID := func(name, tenant string, uid, gid int, group string) func(w *WriteTxn) error {
		return func(w *WriteTxn) error {
			return w.UpsertUser(&structs.User{Username: name, Tenant: tenant, Role: structs.RoleUser,
				Identity: structs.Identity{UID: uid, GID: gid, Group: group}}, structs.CAS{})
		}
	}
	index := uint64(10)
	step := func(name string, fn func(w *WriteTxn) error, want error) {
		t.Helper()
		index++
		before := s.LatestIndex()
		err := try(t, s, index, fn)
		switch {
		case want == nil && err != nil:
			t.Errorf("%s: %v", name, err)
		case want != nil && !errors.Is(err, want):
			t.Errorf("%s: %v, want %v", name, err, want)
		case want != nil && s.LatestIndex() != before:
			t.Errorf("%s: refused but changed the state", name)
		}
	}
	step("bob's identity before any range", userID("bob", "acme", 7000, 7000, ""), nil)
	step("a range without bob's uid", tenant("acme", 1000, 1999), structs.ErrConflict)
	step("bob into the coming range", userID("bob", "acme", 1000, 1000, ""), nil)
	step("acme's range", tenant("acme", 1000, 1999), nil)
	step("invalid range", tenant("beta", 0, 10), structs.ErrInvalid)
	step("upside-down range", tenant("beta", 20, 10), structs.ErrInvalid)
	step("overlapping range", tenant("beta", 1500, 2500), structs.ErrConflict)
	step("beta's range", tenant("beta", 2000, 2999), nil)
	step("a uid outside the range", userID("dan", "acme", 500, 1001, ""), structs.ErrInvalid)
	step("a gid outside the range", userID("dan", "acme", 1001, 3500, ""), structs.ErrInvalid)
	step("a uid in the range", userID("dan", "acme", 1001, 1001, ""), nil)
	step("a uid taken", userID("erin", "acme", 1001, 1002, ""), structs.ErrConflict)
	step("a gid taken", userID("erin", "acme", 1002, 1001, ""), structs.ErrConflict)
	step("a gid under one group", userID("erin", "acme", 1002, 1500, "cfd"), nil)
	step("the same group's gid", userID("fay", "acme", 1003, 1500, "cfd"), nil)
	step("the gid of another group", userID("gil", "acme", 1004, 1500, "ml"), structs.ErrConflict)
	step("another tenant's range", userID("carol", "beta", 1005, 1005, ""), structs.ErrConflict)
	step("a rangeless tenant into a range", func(w *WriteTxn) error {
		if err := w.UpsertTenant(&structs.Tenant{Name: "gamma"}, structs.CAS{}); err != nil {
			return err
		}
		return userID("hal", "gamma", 2500, 2500, "")(w)
	}, structs.ErrConflict)
	step("a rangeless tenant's identity", func(w *WriteTxn) error {
		if err := w.UpsertTenant(&structs.Tenant{Name: "gamma"}, structs.CAS{}); err != nil {
			return err
		}
		return userID("hal", "gamma", 9000, 9000, "")(w)
	}, nil)
	step("a range holding another tenant's user", tenant("delta", 8500, 9500), structs.ErrConflict)
	step("no identity is always fine", userID("ivy", "acme", 0, 0, ""), nil)
	step("a user keeps their uid", userID("dan", "acme", 1001, 1001, ""), nil)
}
