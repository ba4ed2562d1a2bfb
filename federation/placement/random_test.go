package placement

import (
	"fmt"
	"math/rand"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// randomInput draws a federation of a few clusters, machine types, active
// and queued jobs, limits, burst rules and access rules. Equal seeds give
// equal inputs.
func randomInput(r *rand.Rand, nClusters, nJobs int) Input {
	pick := func(s ...string) string { return s[r.Intn(len(s))] }
	in := Input{Now: t0.Add(time.Hour), Options: Options{FairShare: r.Intn(2) == 0, Backfill: r.Intn(2) == 0}}
	if r.Intn(3) == 0 {
		in.Options.HeartbeatTimeout = time.Minute
	}
	var mtNames []string
	for i := range nClusters {
		c := &structs.Cluster{Name: fmt.Sprintf("c%02d", i), Zone: pick("z1", "z2", "z3"),
			Labels: map[string]string{"region": pick("us", "us", "eu")}, Status: structs.ClusterReady,
			LastHeartbeat: in.Now.Add(-time.Duration(r.Intn(80)) * time.Second), Capacity: map[string]structs.Capacity{}}
		switch r.Intn(12) {
		case 0:
			c.Status = structs.ClusterDown
		case 1:
			c.Status = structs.ClusterDraining
		}
		for k := range 1 + r.Intn(3) {
			m := &structs.MachineType{Name: fmt.Sprintf("%s-m%d", c.Name, k), Cores: []int{4, 8, 32}[r.Intn(3)],
				Cluster: c.Name, Price: float64(r.Intn(5)), MaxConcurrent: []int{0, 0, 0, 3}[r.Intn(4)]}
			if r.Intn(8) == 0 {
				m.GPUs, m.Privs = 4, []string{"gpu"}
			}
			if r.Intn(10) != 0 { // sometimes the agent reports nothing for it
				total := r.Intn(40)
				c.Capacity[m.Name] = structs.Capacity{Free: r.Intn(total + 1), Total: total}
			}
			in.MachineTypes = append(in.MachineTypes, m)
			mtNames = append(mtNames, m.Name)
		}
		in.Clusters = append(in.Clusters, c)
	}
	in.Apps = []*structs.App{
		{Name: "solver", Visibility: structs.VisibilityPublic},
		{Name: "itar-cfd", Visibility: structs.VisibilityPublic},
		{Name: "picky", Visibility: structs.VisibilityPublic, AppDef: structs.AppDef{Machines: []string{"c0*"}}},
	}
	for _, t := range []string{"acme", "globex"} {
		for _, v := range []string{"v1", "v2"} {
			in.Vaults = append(in.Vaults, &structs.Vault{Tenant: t, Name: v, Zone: pick("", "z1", "z2")})
		}
	}
	users := []string{"alice", "bob", "carol", "dave"}
	for i, u := range users {
		usr := &structs.User{Username: u, Tenant: []string{"acme", "globex"}[i%2]}
		if r.Intn(2) == 0 {
			usr.Groups = append(usr.Groups, "us-persons")
		}
		if r.Intn(2) == 0 {
			usr.Groups = append(usr.Groups, "gpu")
		}
		in.Users = append(in.Users, usr)
	}
	states := []structs.JobState{structs.JobQueued, structs.JobQueued, structs.JobQueued, structs.JobSubmitted,
		structs.JobHeld, structs.JobAssigned, structs.JobStarting, structs.JobRunning, structs.JobCompleted}
	prios := []structs.PriorityClass{structs.PriorityNormal, structs.PriorityNormal, structs.PriorityHigh, structs.PriorityHighest}
	for i := range nJobs {
		ui := r.Intn(len(users))
		j := &structs.Job{ID: fmt.Sprintf("j%05d", i), Number: uint64(i + 1), Tenant: []string{"acme", "globex"}[ui%2],
			Team: pick("cfd", "ml", ""), Owner: users[ui], App: pick("solver", "solver", "itar-cfd", "picky"),
			MachineType: pick(mtNames...), Nodes: 1 + r.Intn(8), State: states[r.Intn(len(states))],
			Priority: prios[r.Intn(len(prios))], SubmitTime: t0.Add(time.Duration(r.Intn(3600)) * time.Second)}
		if r.Intn(4) == 0 {
			j.Vault = pick("v1", "v2")
		}
		if limitsActive(j.State) {
			if r.Intn(4) == 0 {
				j.AssignedMachineType = pick(mtNames...)
				j.BurstRule = fmt.Sprintf("b%d", r.Intn(4))
			}
			for _, m := range in.MachineTypes {
				if m.Name == j.EffectiveMachineType() {
					j.Cluster = m.Cluster
				}
			}
			j.AssignTime = j.SubmitTime
		}
		in.Jobs = append(in.Jobs, j)
	}
	kinds := []structs.LimitKind{structs.LimitConcurrentJobs, structs.LimitMaxNodes, structs.LimitTotalCores, structs.LimitTotalGPUs}
	for i := range r.Intn(6) {
		l := &structs.Limit{Name: fmt.Sprintf("l%d", i), Tenant: pick("acme", "globex"), Kind: kinds[r.Intn(len(kinds))]}
		switch r.Intn(3) {
		case 0:
			l.Scope = structs.ScopeTenant
		case 1:
			l.Scope, l.Team = structs.ScopeTeam, pick("cfd", "ml")
		default:
			l.Scope, l.User = structs.ScopeUser, pick(users...)
		}
		if l.Kind.PerMachineType() {
			l.MachineType = pick("*", pick(mtNames...))
			l.Value = int64(r.Intn(20))
		} else {
			l.Value = int64(r.Intn(2000))
		}
		in.Limits = append(in.Limits, l)
	}
	for i := range r.Intn(8) {
		from := pick(mtNames...)
		var to []string
		for _, k := range r.Perm(len(mtNames))[:min(len(mtNames), 1+r.Intn(3))] {
			if mtNames[k] != from {
				to = append(to, mtNames[k])
			}
		}
		if len(to) == 0 {
			continue
		}
		in.BurstRules = append(in.BurstRules, &structs.BurstRule{Name: fmt.Sprintf("b%d", i), From: from, To: to,
			After: structs.Duration(time.Duration(r.Intn(3)) * 20 * time.Minute), WhenFull: r.Intn(2) == 0,
			PriceCeiling: float64(r.Intn(4)), Cap: r.Intn(6), MaxTargetNodes: r.Intn(30), Disabled: r.Intn(10) == 0})
	}
	in.AccessRules = []*structs.AccessRule{
		{Name: "itar", Object: structs.AccessObjectApp, Match: "itar-*", Groups: []string{"us-persons"},
			ClusterLabels: map[string]string{"region": "us"}},
	}
	if r.Intn(2) == 0 {
		in.AccessRules = append(in.AccessRules, &structs.AccessRule{Name: "c01-acme", Object: structs.AccessObjectCluster,
			Match: "c01", Tenants: []string{"acme"}})
	}
	if r.Intn(2) == 0 {
		in.AccessRules = append(in.AccessRules, &structs.AccessRule{Name: "vault-us", Object: structs.AccessObjectVault,
			Match: "*/v2", ClusterLabels: map[string]string{"region": "us"}})
	}
	return in
}

func limitsActive(s structs.JobState) bool {
	return s == structs.JobAssigned || s == structs.JobStarting || s == structs.JobRunning
}
