package auth

import (
	"errors"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestVerifiedKeyCacheFollowsTheStore: a user key verified once is
// answered from the cache, but every change that could revoke or change
// its identity (the key removed, the user disabled or moved to another
// team, the tenant disabled, a team's admins) is seen at once, a wrong
// secret under a cached key id is still refused, and what a caller is
// given is its own copy.
func TestVerifiedKeyCacheFollowsTheStore(t *testing.T) {
	a, keys := fixture(t)
	store := a.store
	index := uint64(10)
	write := func(f func(w *state.WriteTxn) error) {
		t.Helper()
		index++
		w := store.Write(index)
		if err := f(w); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	user := func(name string) *structs.User {
		t.Helper()
		u, err := store.Read().User(name)
		if err != nil {
			t.Fatal(err)
		}
		return u.Copy()
	}

	id, err := a.Key(keys["tom"])
	if err != nil || len(id.AdminTeams) != 1 {
		t.Fatalf("tom: %+v, %v", id, err)
	}
	if len(a.keys.entries) != 1 {
		t.Fatalf("cache holds %d keys after one verification, want 1", len(a.keys.entries))
	}
	id.Teams[0], id.AdminTeams[0] = "changed", "changed"
	if again, err := a.Key(keys["tom"]); err != nil || again.Teams[0] != "a1" || again.AdminTeams[0] != "a1" {
		t.Fatalf("cached identity changed by a caller: %+v, %v", again, err)
	}
	if id, err := a.Key(flipLast(keys["tom"])); !errors.Is(err, structs.ErrUnauthorized) {
		t.Fatalf("wrong secret under a cached key id: %+v, %v", id, err)
	}

	// A team's admins change: tom administers no team any more.
	write(func(w *state.WriteTxn) error {
		return w.UpsertTeam(&structs.Team{Tenant: "acme", Name: "a1"}, structs.CAS{})
	})
	if id, err := a.Key(keys["tom"]); err != nil || len(id.AdminTeams) != 0 {
		t.Fatalf("after the team lost its admin: %+v, %v", id, err)
	}

	// The user is disabled, then enabled; then the tenant is disabled.
	u := user("tom")
	u.Disabled = true
	write(func(w *state.WriteTxn) error {
		return w.UpsertUser(u, structs.CAS{})
	})
	if id, err := a.Key(keys["tom"]); !errors.Is(err, structs.ErrUnauthorized) {
		t.Fatalf("disabled user: %+v, %v", id, err)
	}
	u.Disabled = false
	write(func(w *state.WriteTxn) error {
		return w.UpsertUser(u, structs.CAS{})
	})
	if _, err := a.Key(keys["tom"]); err != nil {
		t.Fatalf("enabled again: %v", err)
	}
	write(func(w *state.WriteTxn) error {
		return w.UpsertTenant(&structs.Tenant{Name: "acme", Disabled: true}, structs.CAS{})
	})
	if id, err := a.Key(keys["tom"]); !errors.Is(err, structs.ErrUnauthorized) {
		t.Fatalf("disabled tenant: %+v, %v", id, err)
	}
	write(func(w *state.WriteTxn) error {
		return w.UpsertTenant(&structs.Tenant{Name: "acme"}, structs.CAS{})
	})
	if _, err := a.Key(keys["tom"]); err != nil {
		t.Fatalf("tenant enabled again: %v", err)
	}

	// The key is replaced by another: the old one is refused at once.
	newKey, stored := NewKey(UserKeyPrefix, time.Now())
	u = user("tom")
	u.APIKeys = []structs.APIKeyHash{stored}
	write(func(w *state.WriteTxn) error {
		return w.UpsertUser(u, structs.CAS{})
	})
	if id, err := a.Key(keys["tom"]); !errors.Is(err, structs.ErrUnauthorized) {
		t.Fatalf("removed key: %+v, %v", id, err)
	}
	if id, err := a.Key(newKey); err != nil || id.Username != "tom" || id.KeyID != stored.ID {
		t.Fatalf("new key: %+v, %v", id, err)
	}
}

// BenchmarkUserKey measures authenticating a user API key that was
// verified before (the per-request case): allocations per call.
func BenchmarkUserKey(b *testing.B) {
	a, keys := fixture(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Key(keys["uma"]); err != nil {
			b.Fatal(err)
		}
	}
}
