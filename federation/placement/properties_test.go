package placement

import (
	"math/rand"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
)

func copyInput(in Input) Input {
	c := in
	c.Jobs = cloneAll(in.Jobs, (*structs.Job).Copy)
	c.Clusters = cloneAll(in.Clusters, (*structs.Cluster).Copy)
	c.MachineTypes = cloneAll(in.MachineTypes, (*structs.MachineType).Copy)
	c.Apps = cloneAll(in.Apps, (*structs.App).Copy)
	c.Vaults = cloneAll(in.Vaults, (*structs.Vault).Copy)
	c.Users = cloneAll(in.Users, (*structs.User).Copy)
	c.Limits = cloneAll(in.Limits, (*structs.Limit).Copy)
	c.BurstRules = cloneAll(in.BurstRules, (*structs.BurstRule).Copy)
	c.AccessRules = cloneAll(in.AccessRules, (*structs.AccessRule).Copy)
	return c
}

func cloneAll[T any](s []*T, cp func(*T) *T) []*T {
	out := make([]*T, len(s))
	for i, v := range s {
		out[i] = cp(v)
	}
	return out
}

func shuffleAll[T any](r *rand.Rand, s []T) {
	r.Shuffle(len(s), func(a, b int) { s[a], s[b] = s[b], s[a] })
}

func shuffled(r *rand.Rand, in Input) Input {
	c := copyInput(in)
	shuffleAll(r, c.Jobs)
	shuffleAll(r, c.Clusters)
	shuffleAll(r, c.MachineTypes)
	shuffleAll(r, c.Apps)
	shuffleAll(r, c.Vaults)
	shuffleAll(r, c.Users)
	shuffleAll(r, c.Limits)
	shuffleAll(r, c.BurstRules)
	shuffleAll(r, c.AccessRules)
	return c
}

// limitCounts is an oracle, written apart from package limits: whether
// limit l counts job j on machine type mt, under which key, and how much.
func limitCounts(l *structs.Limit, j *structs.Job, mt *structs.MachineType) (string, int64, bool) {
	if l.Tenant != j.Tenant ||
		(l.Scope == structs.ScopeTeam && (j.Team == "" || l.Team != j.Team)) ||
		(l.Scope == structs.ScopeUser && l.User != j.Owner) {
		return "", 0, false
	}
	key := ""
	if l.Kind.PerMachineType() {
		if ok, _ := path.Match(l.MachineType, mt.Name); !ok {
			return "", 0, false
		}
		key = mt.Name
	}
	switch l.Kind {
	case structs.LimitConcurrentJobs:
		return key, 1, true
	case structs.LimitMaxNodes:
		return key, int64(j.Nodes), true
	case structs.LimitTotalCores:
		return key, int64(j.Nodes * mt.Cores), true
	default:
		return key, int64(j.Nodes * mt.GPUs), true
	}
}

// TestPlaceProperties checks the invariants of a pass on random inputs.
func TestPlaceProperties(t *testing.T) {
	for seed := range int64(400) {
		r := rand.New(rand.NewSource(seed))
		in := randomInput(r, 2+r.Intn(7), r.Intn(120))
		orig := copyInput(in)
		plan := Place(in)
		checkPlan(t, seed, in, plan)

		if diff := cmp.Diff(orig, in, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("seed %d: Place modified its input:\n%s", seed, diff)
		}
		if diff := cmp.Diff(plan, Place(in), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("seed %d: second run differs:\n%s", seed, diff)
		}
		if diff := cmp.Diff(plan, Place(shuffled(r, in)), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("seed %d: shuffled input changed the plan:\n%s", seed, diff)
		}
	}
}

func checkPlan(t *testing.T, seed int64, in Input, plan Plan) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: "+format, append([]any{seed}, args...)...)
	}
	jobs := map[string]*structs.Job{}
	for _, j := range in.Jobs {
		jobs[j.ID] = j
	}
	mts := map[string]*structs.MachineType{}
	for _, m := range in.MachineTypes {
		mts[m.Name] = m
	}
	clusters := map[string]*structs.Cluster{}
	for _, c := range in.Clusters {
		clusters[c.Name] = c
	}
	users := map[string]*structs.User{}
	for _, u := range in.Users {
		users[u.Username] = u
	}
	apps := map[string]*structs.App{}
	for _, a := range in.Apps {
		apps[a.Name] = a
	}
	vaults := map[string]*structs.Vault{}
	for _, v := range in.Vaults {
		vaults[v.Tenant+"/"+v.Name] = v
	}
	rules := map[string]*structs.BurstRule{}
	for _, b := range in.BurstRules {
		rules[b.Name] = b
	}

	// Every queued job is decided exactly once; nothing else is.
	seen := map[string]int{}
	for _, a := range plan.Assignments {
		seen[a.JobID]++
	}
	for _, h := range plan.Held {
		seen[h.JobID]++
	}
	for _, p := range plan.Pending {
		seen[p.JobID]++
	}
	for _, j := range in.Jobs {
		want := 0
		if j.State == structs.JobQueued || j.State == structs.JobSubmitted {
			want = 1
		}
		if seen[j.ID] != want {
			fail("job %s (%s) decided %d times", j.ID, j.State, seen[j.ID])
		}
	}

	// Capacity: never more nodes than reported free, less unbound assignments.
	bound := map[string]int{}
	for _, m := range in.MachineTypes {
		if c := clusters[m.Cluster]; c != nil {
			bound[m.Name] = c.Capacity[m.Name].Free
		}
	}
	var active []*structs.Job
	running := map[string]int{}
	for _, j := range in.Jobs {
		if limitsActive(j.State) {
			active = append(active, j)
			running[j.EffectiveMachineType()]++
			if j.State == structs.JobAssigned {
				if m := mts[j.EffectiveMachineType()]; m != nil && m.Cluster == j.Cluster {
					bound[m.Name] -= j.Nodes
				}
			}
		}
	}
	used := map[string]int{}
	type placed struct {
		j  *structs.Job
		mt *structs.MachineType
	}
	var all []placed
	for _, j := range active {
		if m := mts[j.EffectiveMachineType()]; m != nil {
			all = append(all, placed{j, m})
		}
	}
	assignedBy := map[string]bool{}
	for _, a := range plan.Assignments {
		j, m, c := jobs[a.JobID], mts[a.MachineType], clusters[a.Cluster]
		if j.State == structs.JobHeld {
			fail("HELD job %s assigned", j.ID)
		}
		if m == nil || c == nil || m.Cluster != c.Name {
			fail("assignment %+v: machine type not pinned to cluster", a)
		}
		used[m.Name] += j.Nodes
		running[m.Name]++
		all = append(all, placed{j, m})
		if c.Status != structs.ClusterReady {
			fail("job %s assigned to %s cluster %s", j.ID, c.Status, c.Name)
		}
		if in.Options.HeartbeatTimeout > 0 && in.Now.Sub(c.LastHeartbeat) > in.Options.HeartbeatTimeout {
			fail("job %s assigned to silent cluster %s", j.ID, c.Name)
		}
		// Access: the rules admit it, and (independently) an itar app
		// never leaves region us.
		acc := access.New(in.AccessRules)
		if err := acc.MachineTypeAllowed(access.UserSubject(users[j.Owner]), j, m); err != nil {
			fail("job %s on %s: %v", j.ID, m.Name, err)
		}
		if err := acc.ClusterAllowed(access.UserSubject(users[j.Owner]), j, apps[j.App], m, c); err != nil {
			fail("job %s on %s: %v", j.ID, c.Name, err)
		}
		if strings.HasPrefix(j.App, "itar-") && c.Labels["region"] != "us" {
			fail("export-controlled job %s on cluster %s in region %s", j.ID, c.Name, c.Labels["region"])
		}
		if v := vaults[j.Tenant+"/"+j.Vault]; j.Vault != "" && v != nil && v.Zone != "" && v.Zone != c.Zone {
			fail("job %s with vault in %s on cluster %s in %s", j.ID, v.Zone, c.Name, c.Zone)
		}
		// Burst assignments name an enabled rule that offers the target.
		if (a.BurstRule != "") != (a.MachineType != j.MachineType) {
			fail("assignment %+v of job for %s: burst rule and machine type disagree", a, j.MachineType)
		}
		if a.BurstRule != "" {
			b := rules[a.BurstRule]
			if b == nil || b.Disabled || b.From != j.MachineType || !slices.Contains(b.To, a.MachineType) {
				fail("assignment %+v not offered by rule %+v", a, b)
			}
			if b.PriceCeiling > 0 && m.Price > b.PriceCeiling {
				fail("assignment %+v above price ceiling %v", a, b.PriceCeiling)
			}
			assignedBy[b.Name] = true
		}
	}
	for name, n := range used {
		if n > max(0, bound[name]) {
			fail("machine type %s: %d nodes assigned, %d free", name, n, bound[name])
		}
	}
	for name, n := range running {
		if m := mts[name]; m != nil && m.MaxConcurrent > 0 && n > m.MaxConcurrent && slices.ContainsFunc(plan.Assignments, func(a Assignment) bool { return a.MachineType == name }) {
			fail("machine type %s: %d jobs, max concurrent %d", name, n, m.MaxConcurrent)
		}
	}
	// Burst caps hold after the pass for every rule that placed a job.
	for name := range assignedBy {
		b := rules[name]
		jobsN, nodesOn := 0, map[string]int{}
		for _, p := range all {
			if p.j.BurstRule == name || slices.ContainsFunc(plan.Assignments, func(a Assignment) bool { return a.JobID == p.j.ID && a.BurstRule == name }) {
				jobsN++
				nodesOn[p.mt.Cluster] += p.j.Nodes
			}
		}
		if b.Cap > 0 && jobsN > b.Cap {
			fail("rule %s: %d burst jobs, cap %d", name, jobsN, b.Cap)
		}
		for _, a := range plan.Assignments {
			if a.BurstRule == name && b.MaxTargetNodes > 0 && nodesOn[a.Cluster] > b.MaxTargetNodes {
				fail("rule %s: %d nodes on %s, cap %d", name, nodesOn[a.Cluster], a.Cluster, b.MaxTargetNodes)
			}
		}
	}
	// Limits: no limit under which a job was assigned ends over its value.
	for _, l := range in.Limits {
		total := map[string]int64{}
		for _, p := range all {
			if k, n, ok := limitCounts(l, p.j, p.mt); ok {
				total[k] += n
			}
		}
		for _, a := range plan.Assignments {
			if k, _, ok := limitCounts(l, jobs[a.JobID], mts[a.MachineType]); ok && total[k] > l.Value {
				fail("limit %s/%s: %d after assigning %s, limit %d", l.Name, k, total[k], a.JobID, l.Value)
			}
		}
	}
	// Held jobs name a limit of their tenant.
	for _, h := range plan.Held {
		if !slices.ContainsFunc(in.Limits, func(l *structs.Limit) bool { return l.Name == h.Limit && l.Tenant == jobs[h.JobID].Tenant }) {
			fail("held %+v names no limit of its tenant", h)
		}
	}
}

// TestFIFOWithoutBackfill checks that, without backfill, no job is placed
// on a machine type after an earlier job of the same class waited for
// that type's free nodes.
func TestFIFOWithoutBackfill(t *testing.T) {
	for seed := range int64(300) {
		r := rand.New(rand.NewSource(seed))
		in := randomInput(r, 2+r.Intn(4), r.Intn(80))
		in.Options = Options{}
		in.BurstRules, in.Limits = nil, nil
		plan := Place(in)
		waiting := map[string]bool{} // machine types an earlier job waits for
		decided := map[string]string{}
		for _, p := range plan.Pending {
			decided[p.JobID] = p.Reason
		}
		for _, a := range plan.Assignments {
			decided[a.JobID] = "assigned:" + a.MachineType
		}
		q := slices.Clone(in.Jobs)
		slices.SortFunc(q, structs.CompareQueue)
		for _, j := range q {
			d, ok := decided[j.ID]
			if !ok {
				continue
			}
			if mt, ok := strings.CutPrefix(d, "assigned:"); ok {
				if waiting[mt] {
					t.Fatalf("seed %d: %s placed on %s past an earlier waiting job", seed, j.ID, mt)
				}
				continue
			}
			if strings.Contains(d, " free "+j.MachineType+" nodes, job needs") {
				waiting[j.MachineType] = true
			}
		}
	}
}
