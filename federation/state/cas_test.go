package state

import (
	"errors"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// TestUpsertCAS checks the compare-and-swap rule on users (seeded at index
// 2) and clusters (seeded at 1, then a heartbeat): a matching or absent
// precondition applies, any other is refused with ErrConflict and changes
// nothing.
func TestUpsertCAS(t *testing.T) {
	bob := func() *structs.User {
		return &structs.User{Username: "bob", Tenant: "acme", Role: structs.RoleUser, Email: "bob@acme.example"}
	}
	dave := func() *structs.User { u := bob(); u.Username = "dave"; return u }
	east := func() *structs.Cluster { return &structs.Cluster{Name: "east", Zone: "z7"} }
	tests := map[string]struct {
		op      func(w *WriteTxn) error
		wantErr error
		wantMsg string // part of the error message
	}{
		"zero is unconditional": {op: func(w *WriteTxn) error { return w.UpsertUser(bob(), structs.CAS{}) }},
		"zero creates":          {op: func(w *WriteTxn) error { return w.UpsertUser(dave(), structs.CAS{}) }},
		"index matches": {op: func(w *WriteTxn) error {
			return w.UpsertUser(bob(), structs.CAS{ExpectModifyIndex: 2})
		}},
		"index differs": {op: func(w *WriteTxn) error {
			return w.UpsertUser(bob(), structs.CAS{ExpectModifyIndex: 1})
		}, wantErr: structs.ErrConflict, wantMsg: `user "bob" changed concurrently (modify index 2, expected 1)`},
		"index of a missing object": {op: func(w *WriteTxn) error {
			return w.UpsertUser(dave(), structs.CAS{ExpectModifyIndex: 2})
		}, wantErr: structs.ErrConflict, wantMsg: `user "dave" changed concurrently (not stored, expected modify index 2)`},
		"absent and absent": {op: func(w *WriteTxn) error {
			return w.UpsertUser(dave(), structs.CAS{ExpectAbsent: true})
		}},
		"absent but stored": {op: func(w *WriteTxn) error {
			return w.UpsertUser(bob(), structs.CAS{ExpectAbsent: true})
		}, wantErr: structs.ErrConflict, wantMsg: `user "bob" changed concurrently (exists at modify index 2, expected none)`},
		"absent and an index": {op: func(w *WriteTxn) error {
			return w.UpsertUser(bob(), structs.CAS{ExpectModifyIndex: 2, ExpectAbsent: true})
		}, wantErr: structs.ErrInvalid},
		"cluster after a heartbeat": {op: func(w *WriteTxn) error {
			return w.UpsertCluster(east(), structs.CAS{ExpectModifyIndex: 5})
		}},
		"cluster read before a heartbeat": {op: func(w *WriteTxn) error {
			return w.UpsertCluster(east(), structs.CAS{ExpectModifyIndex: 1})
		}, wantErr: structs.ErrConflict, wantMsg: `cluster "east" changed concurrently (modify index 5, expected 1)`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			seed(t, s)
			write(t, s, 5, func(w *WriteTxn) error {
				return w.Heartbeat(&structs.ClusterHeartbeat{Cluster: "east", Status: structs.ClusterReady, Time: t0})
			})
			before := persist(t, s)
			w := s.Write(100)
			err := tc.op(w)
			if commitErr := w.Commit(); commitErr != nil {
				t.Fatal(commitErr)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("error = %v, want none", err)
				}
				if s.LatestIndex() != 100 {
					t.Errorf("latest index %d, want 100", s.LatestIndex())
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error = %v, want %v with %q", err, tc.wantErr, tc.wantMsg)
			}
			if diff := cmp.Diff(string(before), string(persist(t, s))); diff != "" {
				t.Errorf("refused write changed the store:\n%s", diff)
			}
		})
	}
}

// TestUpsertCASEveryTable checks every upsert honours its precondition:
// each seeded object is refused with a stale index and replaced with the
// current one, and its modify index moves.
func TestUpsertCASEveryTable(t *testing.T) {
	type upsert struct {
		at    uint64 // the object's modify index after seeding
		write func(w *WriteTxn, cas structs.CAS) error
		read  func(r *ReadTxn) (stored, error)
	}
	ri := func(v stored, err error) (stored, error) { return v, err }
	tests := map[string]upsert{
		"tenant": {1, func(w *WriteTxn, cas structs.CAS) error {
			return w.UpsertTenant(&structs.Tenant{Name: "acme", Description: "x"}, cas)
		}, func(r *ReadTxn) (stored, error) { return ri(r.Tenant("acme")) }},
		"team": {2, func(w *WriteTxn, cas structs.CAS) error {
			return w.UpsertTeam(&structs.Team{Tenant: "acme", Name: "cfd", Members: []string{"bob"}}, cas)
		}, func(r *ReadTxn) (stored, error) { return ri(r.Team("acme", "cfd")) }},
		"user": {2, func(w *WriteTxn, cas structs.CAS) error {
			return w.UpsertUser(&structs.User{Username: "bob", Tenant: "acme", Role: structs.RoleUser, Email: "b@x"}, cas)
		}, func(r *ReadTxn) (stored, error) { return ri(r.User("bob")) }},
		"cluster": {1, func(w *WriteTxn, cas structs.CAS) error {
			return w.UpsertCluster(&structs.Cluster{Name: "west", Zone: "z9"}, cas)
		}, func(r *ReadTxn) (stored, error) { return ri(r.Cluster("west")) }},
		"machine type": {2, func(w *WriteTxn, cas structs.CAS) error {
			return w.UpsertMachineType(&structs.MachineType{Name: "g3", Cores: 4, RAM: 8, Cluster: "west"}, cas)
		}, func(r *ReadTxn) (stored, error) { return ri(r.MachineType("g3")) }},
		"vault": {2, func(w *WriteTxn, cas structs.CAS) error {
			return w.UpsertVault(&structs.Vault{Tenant: "acme", Name: "data", Kind: structs.VaultFile, AccessMode: structs.AccessRWX}, cas)
		}, func(r *ReadTxn) (stored, error) { return ri(r.Vault("acme", "data")) }},
		"app": {3, func(w *WriteTxn, cas structs.CAS) error {
			return w.UpsertApp(&structs.App{Name: "solver", Visibility: structs.VisibilityPublic}, cas)
		}, func(r *ReadTxn) (stored, error) { return ri(r.App("solver")) }},
		"limit": {3, func(w *WriteTxn, cas structs.CAS) error {
			return w.UpsertLimit(&structs.Limit{Name: "acme-cores", Scope: structs.ScopeTenant, Tenant: "acme",
				Kind: structs.LimitTotalCores, Value: 8}, cas)
		}, func(r *ReadTxn) (stored, error) { return ri(r.Limit("acme-cores")) }},
		"burst rule": {3, func(w *WriteTxn, cas structs.CAS) error {
			return w.UpsertBurstRule(&structs.BurstRule{Name: "n3-to-gke", From: "n3", To: []string{"n3b"}, WhenFull: true}, cas)
		}, func(r *ReadTxn) (stored, error) { return ri(r.BurstRule("n3-to-gke")) }},
		"access rule": {4, func(w *WriteTxn, cas structs.CAS) error {
			return w.UpsertAccessRule(&structs.AccessRule{Name: "us", Object: structs.AccessObjectApp, Match: "*",
				Groups: []string{"staff"}}, cas)
		}, func(r *ReadTxn) (stored, error) { return ri(r.AccessRule("us")) }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			seed(t, s)
			write(t, s, 4, func(w *WriteTxn) error {
				return w.UpsertAccessRule(&structs.AccessRule{Name: "us", Object: structs.AccessObjectApp, Match: "solver",
					Groups: []string{"staff"}}, structs.CAS{ExpectAbsent: true})
			})
			w := s.Write(10)
			if err := tc.write(w, structs.CAS{ExpectModifyIndex: tc.at + 1}); !errors.Is(err, structs.ErrConflict) {
				t.Errorf("stale index: %v, want a conflict", err)
			}
			if err := tc.write(w, structs.CAS{ExpectAbsent: true}); !errors.Is(err, structs.ErrConflict) {
				t.Errorf("expecting no object: %v, want a conflict", err)
			}
			if err := tc.write(w, structs.CAS{ExpectModifyIndex: tc.at}); err != nil {
				t.Fatalf("current index: %v", err)
			}
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			got, err := tc.read(s.Read())
			if err != nil {
				t.Fatal(err)
			}
			if ri := got.GetRaftIndex(); ri.ModifyIndex != 10 || ri.CreateIndex != tc.at {
				t.Errorf("indexes %+v after the write at 10", *ri)
			}
		})
	}
}

// TestCheckCASForDeletes: a delete's precondition (users seeded at index 2).
func TestCheckCASForDeletes(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	w := s.Write(100)
	defer w.Abort()
	tests := map[string]struct {
		cas     structs.CAS
		user    string
		wantErr error
	}{
		"none":          {cas: structs.CAS{}, user: "bob"},
		"none, missing": {cas: structs.CAS{}, user: "zed"},
		"matches":       {cas: structs.CAS{ExpectModifyIndex: 2}, user: "bob"},
		"stale":         {cas: structs.CAS{ExpectModifyIndex: 1}, user: "bob", wantErr: structs.ErrConflict},
		"missing":       {cas: structs.CAS{ExpectModifyIndex: 2}, user: "zed", wantErr: structs.ErrNotFound},
		"absent":        {cas: structs.CAS{ExpectAbsent: true}, user: "zed", wantErr: structs.ErrInvalid},
	}
	for name, tc := range tests {
		err := w.CheckCAS(TableUsers, tc.cas, "user", tc.user)
		if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
			t.Errorf("%s: %v, want %v", name, err, tc.wantErr)
		}
	}
}
