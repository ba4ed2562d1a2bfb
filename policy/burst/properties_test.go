package burst

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestEvaluateProperties checks on random rules and jobs that every
// candidate honours its rule's constraints, appears once, is never the
// job's own machine type, and that rule order does not change the result.
func TestEvaluateProperties(t *testing.T) {
	mtNames := []string{"cpu-east", "cpu-west", "cpu-cloud", "gpu-west", "orphan", "gone"}
	for seed := range int64(1000) {
		r := rand.New(rand.NewSource(seed))
		pick := func(s ...string) string { return s[r.Intn(len(s))] }
		v := newView()
		v.free = map[string]int{"cpu-east": r.Intn(5), "cpu-west": r.Intn(5)}
		var rules []*structs.BurstRule
		for i := range r.Intn(6) {
			from := pick("cpu-east", "cpu-west")
			var to []string
			for _, t := range r.Perm(len(mtNames))[:1+r.Intn(3)] {
				if mtNames[t] != from {
					to = append(to, mtNames[t])
				}
			}
			if len(to) == 0 {
				continue
			}
			ru := &structs.BurstRule{Name: fmt.Sprintf("r%d", i), From: from, To: to,
				After: structs.Duration(time.Duration(r.Intn(3)) * time.Minute), WhenFull: r.Intn(2) == 0,
				PriceCeiling: []float64{0, 1.5, 5}[r.Intn(3)], Cap: r.Intn(3), MaxTargetNodes: r.Intn(10), Disabled: r.Intn(10) == 0}
			if r.Intn(3) == 0 {
				ru.Tenants = []string{pick("acme", "globex")}
			}
			if r.Intn(3) == 0 {
				ru.Apps = []string{pick("solver", "any")}
			}
			v.ruleJobs[ru.Name] = r.Intn(3)
			v.ruleNodes[ru.Name+"/"+pick("east", "west", "cloud")] = r.Intn(8)
			rules = append(rules, ru)
		}
		j := &structs.Job{ID: "j", Tenant: pick("acme", "globex"), Team: pick("cfd", ""), App: pick("solver", "any"),
			Command: pick("", "gpu"), MachineType: pick("cpu-east", "cpu-west"), Nodes: 1 + r.Intn(6),
			Vault: pick("", "east-data", "anywhere"), SubmitTime: t0}
		now := t0.Add(time.Duration(r.Intn(200)) * time.Second)
		got := New(rules).Evaluate(j, now, v)

		seen := map[string]bool{}
		for _, c := range got.Candidates {
			if seen[c.MachineType] || c.MachineType == j.MachineType {
				t.Fatalf("seed %d: candidate %s repeated or home", seed, c.MachineType)
			}
			seen[c.MachineType] = true
			ru := rules[slices.IndexFunc(rules, func(x *structs.BurstRule) bool { return x.Name == c.Rule })]
			mt, cl := v.mts[c.MachineType], v.clusters[c.Cluster]
			vault := v.vaults[j.Tenant+"/"+j.Vault]
			switch {
			case ru.Disabled || ru.From != j.MachineType || !slices.Contains(ru.To, c.MachineType):
				t.Fatalf("seed %d: %+v not offered by rule %+v", seed, c, ru)
			case len(ru.Tenants) > 0 && !slices.Contains(ru.Tenants, j.Tenant),
				len(ru.Apps) > 0 && !slices.Contains(ru.Apps, j.App):
				t.Fatalf("seed %d: rule %s does not cover job %+v", seed, ru.Name, j)
			case mt == nil || cl == nil || mt.Cluster != cl.Name:
				t.Fatalf("seed %d: candidate %+v has no machine type or cluster", seed, c)
			case ru.PriceCeiling > 0 && mt.Price > ru.PriceCeiling:
				t.Fatalf("seed %d: %s price %v above %v", seed, mt.Name, mt.Price, ru.PriceCeiling)
			case vault != nil && vault.Zone != "" && vault.Zone != cl.Zone:
				t.Fatalf("seed %d: vault zone %s, cluster %s zone %s", seed, vault.Zone, cl.Name, cl.Zone)
			case ru.Cap > 0 && v.ruleJobs[ru.Name] >= ru.Cap:
				t.Fatalf("seed %d: rule %s over its cap", seed, ru.Name)
			case ru.MaxTargetNodes > 0 && v.ruleNodes[ru.Name+"/"+cl.Name]+j.Nodes > ru.MaxTargetNodes:
				t.Fatalf("seed %d: rule %s over its node cap on %s", seed, ru.Name, cl.Name)
			case now.Sub(j.SubmitTime) < ru.After.Std() && !(ru.WhenFull && v.free[ru.From] < j.Nodes):
				t.Fatalf("seed %d: rule %s fired early", seed, ru.Name)
			case ru.After == 0 && ru.WhenFull && v.free[ru.From] >= j.Nodes:
				t.Fatalf("seed %d: full-only rule %s fired with room", seed, ru.Name)
			}
		}
		shuffled := slices.Clone(rules)
		r.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		if diff := cmp.Diff(got, New(shuffled).Evaluate(j, now, v)); diff != "" {
			t.Fatalf("seed %d: rule order changed the result:\n%s", seed, diff)
		}
	}
}
