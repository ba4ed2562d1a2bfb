package access

import (
	"errors"
	"fmt"
	"math/rand"
	"path"
	"slices"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

type randomWorld struct {
	rules    []*structs.AccessRule
	users    []*structs.User
	apps     []*structs.App
	mts      []*structs.MachineType
	clusters []*structs.Cluster
	vaults   []string
}

func drawWorld(r *rand.Rand) randomWorld {
	pick := func(s ...string) string { return s[r.Intn(len(s))] }
	some := func(s ...string) []string {
		var out []string
		for _, v := range s {
			if r.Intn(3) == 0 {
				out = append(out, v)
			}
		}
		return out
	}
	var w randomWorld
	objs := []structs.AccessObject{structs.AccessObjectApp, structs.AccessObjectMachineType, structs.AccessObjectVault, structs.AccessObjectCluster}
	for i := range r.Intn(8) {
		ru := &structs.AccessRule{Name: fmt.Sprintf("r%d", i), Object: objs[r.Intn(len(objs))],
			Groups: some("us-persons", "gpu", "gov"), Tenants: some("acme", "globex"), Disabled: r.Intn(8) == 0}
		switch ru.Object {
		case structs.AccessObjectApp:
			ru.Match = pick("*", "itar-*", "solver")
		case structs.AccessObjectMachineType:
			ru.Match = pick("*", "cpu-*", "gpu-east")
		case structs.AccessObjectVault:
			ru.Match = pick("*/*", "acme/*", "acme/secret")
		default:
			ru.Match = pick("*", "east", "gov")
		}
		if ru.Object != structs.AccessObjectCluster && r.Intn(2) == 0 {
			ru.ClusterLabels = map[string]string{"region": pick("us", "eu")}
		}
		w.rules = append(w.rules, ru)
	}
	for i := range 4 {
		w.users = append(w.users, &structs.User{Username: fmt.Sprintf("u%d", i), Tenant: pick("acme", "globex"),
			Groups: some("us-persons", "gpu", "gov")})
	}
	for _, n := range []string{"itar-cfd", "solver", "viz"} {
		w.apps = append(w.apps, &structs.App{Name: n, Visibility: structs.VisibilityPublic})
	}
	for _, n := range []string{"cpu-east", "gpu-east", "cpu-eu"} {
		w.mts = append(w.mts, &structs.MachineType{Name: n, Cores: 4})
	}
	for _, n := range []string{"east", "eu", "gov"} {
		w.clusters = append(w.clusters, &structs.Cluster{Name: n, Labels: map[string]string{"region": pick("us", "eu")}})
	}
	w.vaults = []string{"", "secret", "scratch"}
	return w
}

// TestAccessProperties checks, on random rules: label constraints are never
// violated by an allowed cluster; adding a rule never allows more; and the
// decision (including the rule named) does not depend on rule order.
func TestAccessProperties(t *testing.T) {
	for seed := range int64(300) {
		r := rand.New(rand.NewSource(seed))
		w := drawWorld(r)
		rs := New(w.rules)
		shuffled := slices.Clone(w.rules)
		r.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		rs2 := New(shuffled)
		extra := &structs.AccessRule{Name: "extra", Object: structs.AccessObjectApp, Match: "*",
			Groups: []string{"us-persons"}, ClusterLabels: map[string]string{"region": "us"}}
		rs3 := New(append(slices.Clone(w.rules), extra))
		for _, u := range w.users {
			for _, a := range w.apps {
				for _, mt := range w.mts {
					for _, v := range w.vaults {
						j := &structs.Job{ID: "j", Tenant: u.Tenant, Owner: u.Username, App: a.Name, MachineType: mt.Name, Vault: v}
						var vault *structs.Vault
						if v != "" {
							vault = &structs.Vault{Tenant: u.Tenant, Name: v}
						}
						sub := rs.CheckSubmit(UserSubject(u), j, a, mt, vault)
						if got := rs2.CheckSubmit(UserSubject(u), j, a, mt, vault); fmt.Sprint(got) != fmt.Sprint(sub) {
							t.Fatalf("seed %d: rule order changed CheckSubmit: %v vs %v", seed, sub, got)
						}
						if sub != nil && rs3.CheckSubmit(UserSubject(u), j, a, mt, vault) == nil {
							t.Fatalf("seed %d: adding a rule allowed a denied submit", seed)
						}
						for _, c := range w.clusters {
							err := rs.ClusterAllowed(UserSubject(u), j, a, mt, c)
							if got := rs2.ClusterAllowed(UserSubject(u), j, a, mt, c); fmt.Sprint(got) != fmt.Sprint(err) {
								t.Fatalf("seed %d: rule order changed ClusterAllowed: %v vs %v", seed, err, got)
							}
							if err != nil {
								if !errors.Is(err, structs.ErrForbidden) {
									t.Fatalf("seed %d: %v not forbidden", seed, err)
								}
								if rs3.ClusterAllowed(UserSubject(u), j, a, mt, c) == nil {
									t.Fatalf("seed %d: adding a rule allowed a denied cluster", seed)
								}
								continue
							}
							checkLabels(t, seed, w.rules, j, mt, c)
						}
					}
				}
			}
		}
	}
}

// checkLabels is an oracle: every enabled rule with cluster labels that
// matches the job's app, machine type or vault is satisfied by c.
func checkLabels(t *testing.T, seed int64, rules []*structs.AccessRule, j *structs.Job, mt *structs.MachineType, c *structs.Cluster) {
	t.Helper()
	for _, ru := range rules {
		if ru.Disabled || len(ru.ClusterLabels) == 0 {
			continue
		}
		var name string
		switch ru.Object {
		case structs.AccessObjectApp:
			name = j.App
		case structs.AccessObjectMachineType:
			name = mt.Name
		case structs.AccessObjectVault:
			if j.Vault == "" {
				continue
			}
			name = j.Tenant + "/" + j.Vault
		}
		if ok, _ := path.Match(ru.Match, name); !ok {
			continue
		}
		for k, v := range ru.ClusterLabels {
			if c.Labels[k] != v {
				t.Fatalf("seed %d: rule %s needs %s=%s, cluster %s allowed with %v", seed, ru.Name, k, v, c.Name, c.Labels)
			}
		}
	}
}
