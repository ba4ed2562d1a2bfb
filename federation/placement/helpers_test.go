package placement

import (
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// world returns a small federation: clusters east and west (region us),
// eu (region eu) and old (down), one CPU machine type pinned to each, and
// a GPU type on east for group gpu. Every type has 8 free of 8 nodes.
func world() Input {
	cl := func(name, zone, region string) *structs.Cluster {
		return &structs.Cluster{Name: name, Zone: zone, Labels: map[string]string{"region": region},
			Status: structs.ClusterReady, LastHeartbeat: t0.Add(-10 * time.Second), Capacity: map[string]structs.Capacity{}}
	}
	east, west, eu, old := cl("east", "us-east", "us"), cl("west", "us-west", "us"), cl("eu", "eu-west", "eu"), cl("old", "us-east", "us")
	old.Status = structs.ClusterDown
	mts := []*structs.MachineType{
		{Name: "cpu-east", Cores: 8, Cluster: "east", Price: 1},
		{Name: "gpu-east", Cores: 16, GPUs: 4, Cluster: "east", Price: 4, Privs: []string{"gpu"}},
		{Name: "cpu-west", Cores: 8, Cluster: "west", Price: 1.5},
		{Name: "cpu-eu", Cores: 8, Cluster: "eu", Price: 1},
		{Name: "cpu-old", Cores: 8, Cluster: "old", Price: 1},
	}
	for _, m := range mts {
		for _, c := range []*structs.Cluster{east, west, eu, old} {
			if m.Cluster == c.Name {
				c.Capacity[m.Name] = structs.Capacity{Free: 8, Total: 8}
			}
		}
	}
	return Input{
		Now:          t0,
		Clusters:     []*structs.Cluster{east, west, eu, old},
		MachineTypes: mts,
		Apps: []*structs.App{
			{Name: "solver", Visibility: structs.VisibilityPublic},
			{Name: "itar-cfd", Visibility: structs.VisibilityPublic},
		},
		Vaults: []*structs.Vault{{Tenant: "acme", Name: "west-data", Zone: "us-west"}},
		Users: []*structs.User{
			{Username: "alice", Tenant: "acme", Teams: []string{"cfd"}, Groups: []string{"us-persons"}},
			{Username: "bob", Tenant: "acme", Teams: []string{"ml"}},
		},
	}
}

// qjob is a QUEUED 1-node cpu-east job of acme/cfd by alice, submitted at
// t0 plus its number of seconds; opts adjust it.
func qjob(id string, n int, opts ...func(*structs.Job)) *structs.Job {
	j := &structs.Job{ID: id, Number: uint64(n), Tenant: "acme", Team: "cfd", Owner: "alice", App: "solver",
		MachineType: "cpu-east", Nodes: 1, State: structs.JobQueued, Priority: structs.PriorityNormal,
		SubmitTime: t0.Add(time.Duration(n) * time.Second)}
	for _, o := range opts {
		o(j)
	}
	return j
}

func nodes(n int) func(*structs.Job)  { return func(j *structs.Job) { j.Nodes = n } }
func on(mt string) func(*structs.Job) { return func(j *structs.Job) { j.MachineType = mt } }
func prio(p structs.PriorityClass) func(*structs.Job) {
	return func(j *structs.Job) { j.Priority = p }
}
func state(s structs.JobState, cluster string) func(*structs.Job) {
	return func(j *structs.Job) { j.State, j.Cluster, j.AssignTime = s, cluster, t0 }
}
func by(team, owner string) func(*structs.Job) {
	return func(j *structs.Job) { j.Team, j.Owner = team, owner }
}

func capacity(in *Input, cluster, mt string, free, total int) {
	for _, c := range in.Clusters {
		if c.Name == cluster {
			c.Capacity[mt] = structs.Capacity{Free: free, Total: total}
		}
	}
}

func cluster(in *Input, name string) *structs.Cluster {
	for _, c := range in.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}
