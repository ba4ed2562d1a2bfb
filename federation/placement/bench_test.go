package placement

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// benchInput builds a large federation: nClusters clusters with a CPU and
// a GPU machine type each (64 nodes, part of them free), 20 tenants of 3
// teams and 10 users, nQueued queued jobs and nQueued/5 running ones, a
// cores limit per tenant and a nodes-per-machine-type limit per team, two
// burst rules per CPU type and export-control access rules.
func benchInput(nClusters, nQueued int, opts Options) Input {
	r := rand.New(rand.NewSource(1))
	in := Input{Now: t0.Add(time.Hour), Options: opts}
	var cpu, all []string
	for i := range nClusters {
		c := &structs.Cluster{Name: fmt.Sprintf("c%02d", i), Zone: fmt.Sprintf("z%d", i%5),
			Labels: map[string]string{"region": []string{"us", "eu"}[i%3/2]}, Status: structs.ClusterReady,
			LastHeartbeat: in.Now, Capacity: map[string]structs.Capacity{}}
		for _, kind := range []string{"cpu", "gpu"} {
			m := &structs.MachineType{Name: c.Name + "-" + kind, Cores: 32, Cluster: c.Name, Price: float64(1 + i%4)}
			if kind == "gpu" {
				m.GPUs = 4
			} else {
				cpu = append(cpu, m.Name)
			}
			c.Capacity[m.Name] = structs.Capacity{Free: r.Intn(65), Total: 64}
			in.MachineTypes = append(in.MachineTypes, m)
			all = append(all, m.Name)
		}
		in.Clusters = append(in.Clusters, c)
	}
	in.Apps = []*structs.App{{Name: "solver", Visibility: structs.VisibilityPublic}, {Name: "itar-cfd", Visibility: structs.VisibilityPublic}}
	in.AccessRules = []*structs.AccessRule{{Name: "itar", Object: structs.AccessObjectApp, Match: "itar-*",
		ClusterLabels: map[string]string{"region": "us"}}}
	for t := range 20 {
		tenant := fmt.Sprintf("t%02d", t)
		in.Limits = append(in.Limits, &structs.Limit{Name: tenant + "-cores", Scope: structs.ScopeTenant, Tenant: tenant,
			Kind: structs.LimitTotalCores, Value: 13000})
		for k := range 3 {
			team := fmt.Sprintf("team%d", k)
			in.Limits = append(in.Limits, &structs.Limit{Name: tenant + "-" + team + "-nodes", Scope: structs.ScopeTeam,
				Tenant: tenant, Team: team, Kind: structs.LimitMaxNodes, MachineType: "*", Value: 64})
		}
		for u := range 10 {
			in.Users = append(in.Users, &structs.User{Username: fmt.Sprintf("%s-u%d", tenant, u), Tenant: tenant})
		}
	}
	for i, from := range cpu {
		in.BurstRules = append(in.BurstRules, &structs.BurstRule{Name: "burst-" + from, From: from,
			To: []string{cpu[(i+1)%len(cpu)], cpu[(i+2)%len(cpu)]}, After: structs.Duration(10 * time.Minute),
			WhenFull: true, Cap: 100, MaxTargetNodes: 32})
	}
	prios := []structs.PriorityClass{structs.PriorityNormal, structs.PriorityNormal, structs.PriorityNormal, structs.PriorityHigh, structs.PriorityHighest}
	for i := range nQueued + nQueued/5 {
		t, u := r.Intn(20), r.Intn(10)
		j := &structs.Job{ID: fmt.Sprintf("j%06d", i), Number: uint64(i + 1), Tenant: fmt.Sprintf("t%02d", t),
			Team: fmt.Sprintf("team%d", u%3), Owner: fmt.Sprintf("t%02d-u%d", t, u), App: "solver",
			MachineType: all[r.Intn(len(all))], Nodes: 1 + r.Intn(4), State: structs.JobQueued,
			Priority: prios[r.Intn(len(prios))], SubmitTime: t0.Add(time.Duration(r.Intn(3600)) * time.Second)}
		if r.Intn(10) == 0 {
			j.App = "itar-cfd"
		}
		if i >= nQueued {
			j.State, j.Cluster = structs.JobRunning, j.MachineType[:3]
		}
		in.Jobs = append(in.Jobs, j)
	}
	return in
}

func BenchmarkPlace10kJobs50Clusters(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts Options
	}{{"fifo", Options{}}, {"backfill", Options{Backfill: true}}, {"fairshare", Options{FairShare: true}}} {
		b.Run(tc.name, func(b *testing.B) {
			in := benchInput(50, 10_000, tc.opts)
			var plan Plan
			b.ReportAllocs()
			for b.Loop() {
				plan = Place(in)
			}
			b.ReportMetric(float64(len(plan.Assignments)), "assigned")
			b.ReportMetric(float64(len(plan.Held)), "held")
			b.ReportMetric(float64(10_000)*float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

// BenchmarkPlaceByAgentFeatures: the fifo pass with agents' features
// recorded: every fourth job has an environment, every tenth an array,
// and a fifth of the clusters' agents lack job-env (their jobs with one
// burst or wait).
func BenchmarkPlaceByAgentFeatures(b *testing.B) {
	in := benchInput(50, 10_000, Options{})
	in.AgentFeatures = true
	for i, c := range in.Clusters {
		c.Agent = &structs.AgentInfo{Version: "v1", Features: []structs.AgentFeature{structs.FeatureArrayJobs, structs.FeatureJobEnv, structs.FeatureJobWorkdir}}
		if i%5 == 0 {
			c.Agent.Features = []structs.AgentFeature{structs.FeatureArrayJobs, structs.FeatureJobWorkdir}
		}
	}
	for i, j := range in.Jobs {
		if i%4 == 0 {
			j.Env = map[string]string{"CASE": "1"}
		}
		if i%10 == 0 {
			j.Array = &structs.ArrayJob{Spec: structs.ArraySpec{Start: 1, End: 8}}
		}
	}
	var plan Plan
	b.ReportAllocs()
	for b.Loop() {
		plan = Place(in)
	}
	b.ReportMetric(float64(len(plan.Assignments)), "assigned")
	b.ReportMetric(float64(10_000)*float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

func BenchmarkExpiredAssignments10k(b *testing.B) {
	in := benchInput(50, 10_000, Options{})
	for i, j := range in.Jobs {
		if i%2 == 0 {
			j.State, j.AssignTime = structs.JobAssigned, t0.Add(time.Duration(i)*time.Millisecond)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		ExpiredAssignments(in.Jobs, t0.Add(time.Minute), 30*time.Second)
	}
}
