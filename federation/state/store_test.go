package state

import (
	"errors"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

func TestIndexes(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	submit(t, s, 10, "j-a", "acme", "alice", "n3")
	submit(t, s, 11, "j-b", "acme", "bob", "n3")
	write(t, s, 12, func(w *WriteTxn) error {
		_, err := w.AssignJob(&structs.JobAssignment{ID: "j-a", Cluster: "east", Time: t0})
		return err
	})
	r := s.Read()
	tests := map[string]struct {
		query func() ([]string, error)
		want  []string
	}{
		"tenants": {func() ([]string, error) {
			v, err := r.Tenants()
			return names(v, func(x *structs.Tenant) string { return x.Name }), err
		}, []string{"acme", "beta"}},
		"users by tenant": {func() ([]string, error) {
			v, err := r.UsersByTenant("acme")
			return names(v, func(x *structs.User) string { return x.Username }), err
		}, []string{"alice", "bob"}},
		"user by api key": {func() ([]string, error) {
			v, err := r.UserByAPIKeyID("k-alice")
			return []string{v.Username}, err
		}, []string{"alice"}},
		"teams by tenant": {func() ([]string, error) {
			v, err := r.TeamsByTenant("beta")
			return names(v, func(x *structs.Team) string { return x.Tenant + "/" + x.Name }), err
		}, []string{"beta/cfd"}},
		"team by pair": {func() ([]string, error) {
			v, err := r.Team("acme", "cfd")
			return v.Members, err
		}, []string{"alice", "bob"}},
		"vaults by tenant": {func() ([]string, error) {
			v, err := r.VaultsByTenant("acme")
			return names(v, func(x *structs.Vault) string { return x.Name }), err
		}, []string{"data"}},
		"clusters by zone": {func() ([]string, error) {
			v, err := r.ClustersByZone("z1")
			return names(v, func(x *structs.Cluster) string { return x.Name }), err
		}, []string{"east", "gke"}},
		"cluster by agent key": {func() ([]string, error) {
			v, err := r.ClusterByAgentKeyID("ag-east")
			return []string{v.Name}, err
		}, []string{"east"}},
		"machine types by cluster": {func() ([]string, error) {
			v, err := r.MachineTypesByCluster("gke")
			return names(v, func(x *structs.MachineType) string { return x.Name }), err
		}, []string{"n3b"}},
		"burst rules from": {func() ([]string, error) {
			v, err := r.BurstRulesFrom("n3")
			return names(v, func(x *structs.BurstRule) string { return x.Name }), err
		}, []string{"n3-to-gke"}},
		"burst rules from prefix is not a match": {func() ([]string, error) {
			v, err := r.BurstRulesFrom("n")
			return names(v, func(x *structs.BurstRule) string { return x.Name }), err
		}, []string{}},
		"limits by tenant": {func() ([]string, error) {
			v, err := r.LimitsByTenant("acme")
			return names(v, func(x *structs.Limit) string { return x.Name }), err
		}, []string{"acme-cores"}},
		"job by number": {func() ([]string, error) {
			v, err := r.JobByNumber(2)
			return []string{v.ID}, err
		}, []string{"j-b"}},
		"jobs by cluster since": {func() ([]string, error) {
			v, _, err := r.ClusterJobsChanged("east", 11, 0, 0)
			return names(v, func(x *structs.Job) string { return x.ID }), err
		}, []string{"j-a"}},
		"jobs by cluster since now": {func() ([]string, error) {
			v, _, err := r.ClusterJobsChanged("east", 12, 0, 0)
			return names(v, func(x *structs.Job) string { return x.ID }), err
		}, []string{}},
		"active jobs of a cluster": {func() ([]string, error) {
			v, _, err := r.ActiveClusterJobs("east", 0, 0)
			return names(v, func(x *structs.Job) string { return x.ID }), err
		}, []string{"j-a"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.query()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestModifyIndexes(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	tests := map[string]struct {
		table string
		want  uint64
	}{
		"tenants":     {TableTenants, 1},
		"users":       {TableUsers, 2},
		"burst rules": {TableBurstRules, 3},
		"jobs":        {TableJobs, 0},
		"global":      {AllTables, 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := s.Index(tc.table); got != tc.want {
				t.Errorf("Index(%s) = %d, want %d", tc.table, got, tc.want)
			}
		})
	}
	write(t, s, 7, func(w *WriteTxn) error {
		return w.UpsertTenant(&structs.Tenant{Name: "acme", Disabled: true}, structs.CAS{})
	})
	ten, _ := s.Read().Tenant("acme")
	if ten.CreateIndex != 1 || ten.ModifyIndex != 7 {
		t.Errorf("tenant indexes = %d/%d, want 1/7", ten.CreateIndex, ten.ModifyIndex)
	}
	if s.LatestIndex() != 7 || s.Index(TableUsers) != 2 {
		t.Errorf("latest %d users %d", s.LatestIndex(), s.Index(TableUsers))
	}
}

func TestWriteErrors(t *testing.T) {
	tests := map[string]struct {
		op   func(w *WriteTxn) error
		want error
	}{
		"team of unknown tenant": {func(w *WriteTxn) error {
			return w.UpsertTeam(&structs.Team{Tenant: "nope", Name: "x"}, structs.CAS{})
		}, structs.ErrInvalid},
		"machine type of unknown cluster": {func(w *WriteTxn) error {
			return w.UpsertMachineType(&structs.MachineType{Name: "x", Cores: 1, Cluster: "nope"}, structs.CAS{})
		}, structs.ErrInvalid},
		"api key of another user": {func(w *WriteTxn) error {
			return w.UpsertUser(&structs.User{Username: "bob", Tenant: "acme", Role: structs.RoleUser,
				APIKeys: []structs.APIKeyHash{structs.HashAPIKey("k-alice", "x")}}, structs.CAS{})
		}, structs.ErrConflict},
		"agent key of another cluster": {func(w *WriteTxn) error {
			return w.UpsertCluster(&structs.Cluster{Name: "west", AgentKey: structs.HashAPIKey("ag-east", "x")}, structs.CAS{})
		}, structs.ErrConflict},
		"delete tenant in use":       {func(w *WriteTxn) error { return w.DeleteTenant("acme") }, structs.ErrConflict},
		"delete cluster in use":      {func(w *WriteTxn) error { return w.DeleteCluster("east") }, structs.ErrConflict},
		"delete machine type in use": {func(w *WriteTxn) error { return w.DeleteMachineType("n3b") }, structs.ErrConflict},
		"delete missing app":         {func(w *WriteTxn) error { return w.DeleteApp("nope") }, structs.ErrNotFound},
		"burst to unknown type": {func(w *WriteTxn) error {
			return w.UpsertBurstRule(&structs.BurstRule{Name: "x", From: "n3", To: []string{"zz"}}, structs.CAS{})
		}, structs.ErrInvalid},
		"heartbeat unknown cluster": {func(w *WriteTxn) error {
			return w.Heartbeat(&structs.ClusterHeartbeat{Cluster: "nope", Time: t0})
		}, structs.ErrNotFound},
		"invalid limit": {func(w *WriteTxn) error {
			return w.UpsertLimit(&structs.Limit{Name: "x", Tenant: "acme", Scope: "galaxy"}, structs.CAS{})
		}, structs.ErrInvalid},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			seed(t, s)
			var before, after []byte
			before = persist(t, s)
			w := s.Write(100)
			if err := tc.op(w); !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			after = persist(t, s)
			if diff := cmp.Diff(string(before), string(after)); diff != "" {
				t.Errorf("failed write changed the store:\n%s", diff)
			}
		})
	}
}

func TestHeartbeatAndReregister(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	capacity := map[string]structs.Capacity{"n3": {Free: 3, Total: 10}}
	write(t, s, 5, func(w *WriteTxn) error {
		return w.Heartbeat(&structs.ClusterHeartbeat{Cluster: "east", Status: structs.ClusterReady,
			Capacity: capacity, Time: t0})
	})
	capacity["n3"] = structs.Capacity{} // the store must hold its own copy
	write(t, s, 6, func(w *WriteTxn) error {
		return w.UpsertCluster(&structs.Cluster{Name: "east", Zone: "z9", Labels: map[string]string{"cloud": "aws"}}, structs.CAS{})
	})
	c, err := s.Read().Cluster("east")
	if err != nil {
		t.Fatal(err)
	}
	want := &structs.Cluster{RaftIndex: structs.RaftIndex{CreateIndex: 1, ModifyIndex: 6}, Name: "east",
		Zone: "z9", Labels: map[string]string{"cloud": "aws"}, Status: structs.ClusterReady,
		LastHeartbeat: t0, Capacity: map[string]structs.Capacity{"n3": {Free: 3, Total: 10}}}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("cluster (-want +got):\n%s", diff)
	}
	if w, _ := s.Read().Cluster("west"); w.Status != structs.ClusterUnknown {
		t.Errorf("new cluster status %q", w.Status)
	}
}

func TestReadsReturnCopies(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	in := &structs.Job{ID: "j", Tenant: "acme", Owner: "alice", App: "solver", MachineType: "n3",
		Nodes: 1, SubmitTime: t0, Parameters: map[string]string{"np": "4"}}
	write(t, s, 9, func(w *WriteTxn) error { _, err := w.SubmitJob(in); return err })
	in.Parameters["np"] = "input mutated"
	got, _ := s.Read().Job("j")
	got.Parameters["np"] = "output mutated"
	got.State = structs.JobRunning
	again, _ := s.Read().Job("j")
	if again.Parameters["np"] != "4" || again.State != structs.JobSubmitted {
		t.Errorf("store changed through a copy: %+v", again)
	}
	u, _ := s.Read().User("alice")
	u.APIKeys[0].ID = "stolen"
	if _, err := s.Read().UserByAPIKeyID("k-alice"); err != nil {
		t.Errorf("store changed through a user copy: %v", err)
	}
}

func TestReadTxnIsConsistent(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	r := s.Read()
	write(t, s, 20, func(w *WriteTxn) error { return w.DeleteApp("solver") })
	if _, err := r.App("solver"); err != nil {
		t.Errorf("old read txn lost the app: %v", err)
	}
	if _, err := s.Read().App("solver"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("new read txn: %v", err)
	}
}
