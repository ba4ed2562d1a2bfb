package limits

import (
	"fmt"
	"math/rand"
	"path"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// randomCase draws jobs of two tenants in every state and a few limits of
// every scope and kind. Equal seeds give equal cases.
func randomCase(r *rand.Rand) ([]*structs.Job, []*structs.Limit) {
	pick := func(s ...string) string { return s[r.Intn(len(s))] }
	states := []structs.JobState{structs.JobRunning, structs.JobAssigned, structs.JobStarting,
		structs.JobHeld, structs.JobHeld, structs.JobQueued, structs.JobCompleted}
	prios := []structs.PriorityClass{structs.PriorityNormal, structs.PriorityHigh, structs.PriorityHighest, ""}
	var jobs []*structs.Job
	for i := range r.Intn(60) {
		j := &structs.Job{
			ID: fmt.Sprintf("j%03d", i), Number: uint64(i + 1),
			Tenant: pick("acme", "globex"), Team: pick("cfd", "ml", ""), Owner: pick("alice", "bob", "carol"),
			MachineType: pick("cpu-east", "cpu-west", "gpu-east", "gone"), Nodes: 1 + r.Intn(6),
			State: states[r.Intn(len(states))], Priority: prios[r.Intn(len(prios))],
			SubmitTime: t0.Add(time.Duration(r.Intn(30)) * time.Minute),
		}
		if Active(j.State) && r.Intn(4) == 0 {
			j.AssignedMachineType = pick("cpu-west", "gpu-east")
		}
		jobs = append(jobs, j)
	}
	kinds := []structs.LimitKind{structs.LimitConcurrentJobs, structs.LimitMaxNodes, structs.LimitTotalCores, structs.LimitTotalGPUs}
	var ls []*structs.Limit
	for i := range r.Intn(7) {
		l := &structs.Limit{Name: fmt.Sprintf("l%d", i), Tenant: pick("acme", "globex"), Kind: kinds[r.Intn(len(kinds))]}
		switch r.Intn(3) {
		case 0:
			l.Scope = structs.ScopeTenant
		case 1:
			l.Scope, l.Team = structs.ScopeTeam, pick("cfd", "ml")
		default:
			l.Scope, l.User = structs.ScopeUser, pick("alice", "bob", "carol")
		}
		if l.Kind.PerMachineType() {
			l.MachineType = pick("*", "cpu-*", "cpu-east", "gpu-east")
			l.Value = int64(r.Intn(12))
		} else {
			l.Value = int64(r.Intn(200))
		}
		ls = append(ls, l)
	}
	return jobs, ls
}

// counts is an oracle, written apart from the package: whether limit l
// counts job j running on machine type mt, and under which key.
func counts(l *structs.Limit, j *structs.Job, mt string) (string, bool) {
	if l.Tenant != j.Tenant ||
		(l.Scope == structs.ScopeTeam && (j.Team == "" || l.Team != j.Team)) ||
		(l.Scope == structs.ScopeUser && l.User != j.Owner) {
		return "", false
	}
	if !l.Kind.PerMachineType() {
		return "", true
	}
	ok, _ := path.Match(l.MachineType, mt)
	return mt, ok
}

// used sums, by brute force, what jobs on their machine types use of
// limit l under key.
func used(l *structs.Limit, key string, jobs []*structs.Job, mts map[string]*structs.MachineType) int64 {
	var n int64
	for _, j := range jobs {
		mt := j.EffectiveMachineType()
		if k, ok := counts(l, j, mt); ok && k == key {
			n += Demand(j, mts[mt]).of(l.Kind)
		}
	}
	return n
}

func TestReleaseProperties(t *testing.T) {
	mts := machineTypes()
	for seed := range int64(500) {
		jobs, ls := randomCase(rand.New(rand.NewSource(seed)))
		u := NewUsage(jobs, mts)
		got := Release(jobs, mts, u, ls)

		byID := make(map[string]*structs.Job)
		var active []*structs.Job
		for _, j := range jobs {
			byID[j.ID] = j
			if Active(j.State) {
				active = append(active, j)
			}
		}
		// No limit is pushed over by released jobs.
		after := slices.Clone(active)
		for _, id := range got.Released {
			after = append(after, byID[id])
		}
		for _, id := range got.Released {
			j := byID[id]
			for _, l := range ls {
				if key, ok := counts(l, j, j.MachineType); ok {
					if n := used(l, key, after, mts); n > l.Value {
						t.Fatalf("seed %d: releasing %s puts limit %s/%s at %d > %d", seed, id, l.Name, key, n, l.Value)
					}
				}
			}
		}
		// Queue order per limit: no released job counted by the limit of
		// an earlier held job (unless that job exceeds the limit alone).
		for _, h := range got.Held {
			if h.Hold.Exceeds {
				continue
			}
			hj := byID[h.JobID]
			lim := ls[slices.IndexFunc(ls, func(l *structs.Limit) bool { return l.Name == h.Hold.Limit })]
			for _, id := range got.Released {
				rj := byID[id]
				if structs.CompareQueue(hj, rj) > 0 {
					continue
				}
				if key, ok := counts(lim, rj, rj.MachineType); ok && key == h.Hold.MachineType {
					t.Fatalf("seed %d: %s released past earlier %s held by %s", seed, id, h.JobID, lim.Name)
				}
			}
		}
		// Every held job is accounted for exactly once.
		var nHeld int
		for _, j := range jobs {
			if j.State == structs.JobHeld {
				nHeld++
			}
		}
		if len(got.Released)+len(got.Held) != nHeld {
			t.Fatalf("seed %d: %d released + %d held != %d HELD", seed, len(got.Released), len(got.Held), nHeld)
		}
		// Deterministic whatever the input order.
		r := rand.New(rand.NewSource(seed))
		j2, l2 := slices.Clone(jobs), slices.Clone(ls)
		r.Shuffle(len(j2), func(a, b int) { j2[a], j2[b] = j2[b], j2[a] })
		r.Shuffle(len(l2), func(a, b int) { l2[a], l2[b] = l2[b], l2[a] })
		if diff := cmp.Diff(got, Release(j2, mts, NewUsage(j2, mts), l2)); diff != "" {
			t.Fatalf("seed %d: shuffled input changed the result:\n%s", seed, diff)
		}
	}
}

func TestEvaluateMatchesOracle(t *testing.T) {
	mts := machineTypes()
	for seed := range int64(500) {
		jobs, ls := randomCase(rand.New(rand.NewSource(seed)))
		u := NewUsage(jobs, mts)
		var active []*structs.Job
		for _, j := range jobs {
			if Active(j.State) {
				active = append(active, j)
			}
		}
		for _, j := range jobs {
			if Active(j.State) {
				continue
			}
			mt := mts[j.MachineType]
			fits := true
			for _, l := range ls {
				if key, ok := counts(l, j, j.MachineType); ok &&
					used(l, key, active, mts)+Demand(j, mt).of(l.Kind) > l.Value {
					fits = false
				}
			}
			h := Evaluate(j, mt, u, ls)
			if (h == nil) != fits {
				t.Fatalf("seed %d job %s: Evaluate = %+v, oracle fits = %v", seed, j.ID, h, fits)
			}
		}
	}
}
