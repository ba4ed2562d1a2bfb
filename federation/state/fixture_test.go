package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// write runs fn in a write transaction at index and commits it.
func write(t testing.TB, s *Store, index uint64, fn func(w *WriteTxn) error) {
	t.Helper()
	w := s.Write(index)
	if err := fn(w); err != nil {
		w.Abort()
		t.Fatalf("write at %d: %v", index, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func must(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// seed fills s with two tenants, two clusters, machine types, users, teams,
// vaults, limits, a burst rule and an app, at indexes 1..3.
func seed(t testing.TB, s *Store) {
	t.Helper()
	write(t, s, 1, func(w *WriteTxn) error {
		return must(
			w.UpsertTenant(&structs.Tenant{Name: "acme"}, structs.CAS{}),
			w.UpsertTenant(&structs.Tenant{Name: "beta", Isolated: true}, structs.CAS{}),
			w.UpsertCluster(&structs.Cluster{Name: "east", Zone: "z1", AgentKey: structs.HashAPIKey("ag-east", "secret-e")}, structs.CAS{}),
			w.UpsertCluster(&structs.Cluster{Name: "west", Zone: "z2"}, structs.CAS{}),
			w.UpsertCluster(&structs.Cluster{Name: "gke", Zone: "z1"}, structs.CAS{}),
		)
	})
	write(t, s, 2, func(w *WriteTxn) error {
		return must(
			w.UpsertMachineType(&structs.MachineType{Name: "n3", Cores: 16, Slots: 16, RAM: 64, Cluster: "east"}, structs.CAS{}),
			w.UpsertMachineType(&structs.MachineType{Name: "n3b", Cores: 16, Slots: 16, RAM: 64, Cluster: "gke"}, structs.CAS{}),
			w.UpsertMachineType(&structs.MachineType{Name: "g3", Cores: 8, GPUs: 1, RAM: 64, Cluster: "west"}, structs.CAS{}),
			w.UpsertUser(&structs.User{Username: "alice", Tenant: "acme", Role: structs.RoleAdmin, Teams: []string{"cfd"},
				APIKeys: []structs.APIKeyHash{structs.HashAPIKey("k-alice", "a")}}, structs.CAS{}),
			w.UpsertUser(&structs.User{Username: "bob", Tenant: "acme", Role: structs.RoleUser, Teams: []string{"cfd"}}, structs.CAS{}),
			w.UpsertUser(&structs.User{Username: "carol", Tenant: "beta", Role: structs.RoleUser}, structs.CAS{}),
			w.UpsertTeam(&structs.Team{Tenant: "acme", Name: "cfd"}, structs.CAS{}),
			w.UpsertTeam(&structs.Team{Tenant: "beta", Name: "cfd"}, structs.CAS{}),
			w.UpsertVault(&structs.Vault{Tenant: "acme", Name: "data", Kind: structs.VaultFile, AccessMode: structs.AccessRWO}, structs.CAS{}),
		)
	})
	write(t, s, 3, func(w *WriteTxn) error {
		return must(
			w.UpsertLimit(&structs.Limit{Name: "acme-cores", Scope: structs.ScopeTenant, Tenant: "acme",
				Kind: structs.LimitTotalCores, Value: 256}, structs.CAS{}),
			w.UpsertBurstRule(&structs.BurstRule{Name: "n3-to-gke", From: "n3", To: []string{"n3b"},
				After: structs.Duration(10 * time.Minute)}, structs.CAS{}),
			w.UpsertApp(&structs.App{Name: "solver", Visibility: structs.VisibilityPublic,
				AppDef: structs.AppDef{Name: "Solver", Commands: map[string]structs.Command{"run": {Path: "/run"}}}}, structs.CAS{}),
		)
	})
}

// submit submits job id for owner at index, returning the stored job.
func submit(t testing.TB, s *Store, index uint64, id, tenant, owner, mt string) *structs.Job {
	t.Helper()
	var j *structs.Job
	write(t, s, index, func(w *WriteTxn) (err error) {
		j, err = w.SubmitJob(&structs.Job{ID: id, Tenant: tenant, Owner: owner, App: "solver",
			MachineType: mt, Nodes: 1, SubmitTime: t0.Add(time.Duration(index) * time.Second)})
		return err
	})
	return j
}

func jobNumbers(jobs []*structs.Job) []uint64 {
	out := make([]uint64, len(jobs))
	for i, j := range jobs {
		out[i] = j.Number
	}
	return out
}

func names[T any](items []T, name func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = name(it)
	}
	return out
}

func jobID(i int) string { return fmt.Sprintf("job-%03d", i) }
