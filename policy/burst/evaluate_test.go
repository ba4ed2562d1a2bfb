package burst

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func TestEvaluate(t *testing.T) {
	mins := func(m int) structs.Duration { return structs.Duration(time.Duration(m) * time.Minute) }
	overflow := &structs.BurstRule{Name: "overflow", From: "cpu-east", To: []string{"cpu-west", "cpu-cloud"}, After: mins(5)}
	tests := map[string]struct {
		rules []*structs.BurstRule
		job   func(*structs.Job)
		view  func(*fakeView)
		now   time.Duration // after t0
		want  Result
	}{
		"no rule": {now: time.Hour, want: Result{}},
		"waited long enough": {rules: []*structs.BurstRule{overflow}, now: 5*time.Minute + 1500*time.Millisecond,
			want: Result{Candidates: []Candidate{
				{Rule: "overflow", MachineType: "cpu-west", Cluster: "west", Reason: "burst by rule overflow to cpu-west after 5m1s"},
				{Rule: "overflow", MachineType: "cpu-cloud", Cluster: "cloud", Reason: "burst by rule overflow to cpu-cloud after 5m1s"},
			}}},
		"not yet": {rules: []*structs.BurstRule{overflow}, now: 2 * time.Second,
			want: Result{Skipped: []string{"rule overflow: waited 2s of 5m0s"}}},
		"when full, full": {rules: []*structs.BurstRule{{Name: "full", From: "cpu-east", To: []string{"cpu-west"}, After: mins(60), WhenFull: true}},
			job: func(j *structs.Job) { j.Nodes = 3 }, now: time.Second,
			want: Result{Candidates: []Candidate{{Rule: "full", MachineType: "cpu-west", Cluster: "west",
				Reason: "burst by rule full to cpu-west: cpu-east has 2 free nodes, job needs 3"}}}},
		"when full, room": {rules: []*structs.BurstRule{{Name: "full", From: "cpu-east", To: []string{"cpu-west"}, After: mins(60), WhenFull: true}},
			now: time.Second, want: Result{Skipped: []string{"rule full: waited 1s of 1h0m0s and cpu-east has room"}}},
		"only when full, room": {rules: []*structs.BurstRule{{Name: "full", From: "cpu-east", To: []string{"cpu-west"}, WhenFull: true}},
			now: time.Hour, want: Result{Skipped: []string{"rule full: cpu-east has room (2 free nodes)"}}},
		"at once": {rules: []*structs.BurstRule{{Name: "now", From: "cpu-east", To: []string{"cpu-west"}}},
			want: Result{Candidates: []Candidate{{Rule: "now", MachineType: "cpu-west", Cluster: "west", Reason: "burst by rule now to cpu-west"}}}},
		"tenant not allowed": {rules: []*structs.BurstRule{{Name: "r", From: "cpu-east", To: []string{"cpu-west"}, Tenants: []string{"globex"}}},
			want: Result{Skipped: []string{"rule r: tenant acme may not burst"}}},
		"team not allowed": {rules: []*structs.BurstRule{{Name: "r", From: "cpu-east", To: []string{"cpu-west"}, Teams: []string{"ml"}}},
			want: Result{Skipped: []string{"rule r: team cfd may not burst"}}},
		"no team": {rules: []*structs.BurstRule{{Name: "r", From: "cpu-east", To: []string{"cpu-west"}, Teams: []string{"ml"}}},
			job: func(j *structs.Job) { j.Team = "" }, want: Result{Skipped: []string{"rule r: jobs without a team may not burst"}}},
		"export-controlled app stays": {rules: []*structs.BurstRule{{Name: "r", From: "cpu-east", To: []string{"cpu-west"}, Apps: []string{"any"}}},
			want: Result{Skipped: []string{"rule r: app solver may not burst"}}},
		"price ceiling": {rules: []*structs.BurstRule{{Name: "cheap", From: "cpu-east", To: []string{"cpu-cloud", "cpu-west"}, PriceCeiling: 2}},
			want: Result{
				Candidates: []Candidate{{Rule: "cheap", MachineType: "cpu-west", Cluster: "west", Reason: "burst by rule cheap to cpu-west"}},
				Skipped:    []string{"rule cheap: cpu-cloud: price 3 above ceiling 2"},
			}},
		"data locality": {rules: []*structs.BurstRule{{Name: "r", From: "cpu-east", To: []string{"cpu-west", "cpu-cloud"}}},
			job: func(j *structs.Job) { j.Vault = "east-data" },
			want: Result{
				Candidates: []Candidate{{Rule: "r", MachineType: "cpu-cloud", Cluster: "cloud", Reason: "burst by rule r to cpu-cloud"}},
				Skipped:    []string{"rule r: cpu-west: cluster west is in zone us-west, vault east-data in zone us-east"},
			}},
		"vault without zone goes anywhere": {rules: []*structs.BurstRule{{Name: "r", From: "cpu-east", To: []string{"cpu-west"}}},
			job:  func(j *structs.Job) { j.Vault = "anywhere" },
			want: Result{Candidates: []Candidate{{Rule: "r", MachineType: "cpu-west", Cluster: "west", Reason: "burst by rule r to cpu-west"}}}},
		"app machines": {rules: []*structs.BurstRule{{Name: "r", From: "cpu-east", To: []string{"gpu-west", "cpu-west"}}},
			want: Result{
				Candidates: []Candidate{{Rule: "r", MachineType: "cpu-west", Cluster: "west", Reason: "burst by rule r to cpu-west"}},
				Skipped:    []string{"rule r: gpu-west: app solver does not run on it"},
			}},
		"command machines override": {rules: []*structs.BurstRule{{Name: "r", From: "cpu-east", To: []string{"gpu-west", "cpu-west"}}},
			job: func(j *structs.Job) { j.Command = "gpu" },
			want: Result{
				Candidates: []Candidate{{Rule: "r", MachineType: "gpu-west", Cluster: "west", Reason: "burst by rule r to gpu-west"}},
				Skipped:    []string{"rule r: cpu-west: app solver does not run on it"},
			}},
		"scale max": {rules: []*structs.BurstRule{{Name: "r", From: "cpu-east", To: []string{"cpu-cloud"}}},
			job: func(j *structs.Job) { j.Nodes = 5 }, want: Result{Skipped: []string{"rule r: cpu-cloud: job needs 5 nodes, scale max 4"}}},
		"unknown target and cluster": {rules: []*structs.BurstRule{{Name: "r", From: "cpu-east", To: []string{"gone", "orphan"}}},
			job:  func(j *structs.Job) { j.App = "any" },
			want: Result{Skipped: []string{"rule r: gone: unknown machine type", `rule r: orphan: cluster "nowhere" unknown`}}},
		"cap reached": {rules: []*structs.BurstRule{{Name: "r", From: "cpu-east", To: []string{"cpu-west"}, Cap: 3}},
			view: func(v *fakeView) { v.ruleJobs["r"] = 3 }, want: Result{Skipped: []string{"rule r: cap of 3 burst jobs reached"}}},
		"target node cap": {rules: []*structs.BurstRule{{Name: "r", From: "cpu-east", To: []string{"cpu-west", "cpu-cloud"}, MaxTargetNodes: 8}},
			job: func(j *structs.Job) { j.Nodes = 2 }, view: func(v *fakeView) { v.ruleNodes["r/west"] = 7 },
			want: Result{
				Candidates: []Candidate{{Rule: "r", MachineType: "cpu-cloud", Cluster: "cloud", Reason: "burst by rule r to cpu-cloud"}},
				Skipped:    []string{"rule r: cpu-west: burst jobs use 7 of 8 nodes on west, job needs 2"},
			}},
		"rules in name order, targets once": {rules: []*structs.BurstRule{
			{Name: "b", From: "cpu-east", To: []string{"cpu-west", "cpu-cloud"}},
			{Name: "a", From: "cpu-east", To: []string{"cpu-cloud"}},
			{Name: "c", From: "cpu-east", To: []string{"cpu-west"}, Disabled: true},
			{Name: "d", From: "cpu-west", To: []string{"cpu-east"}},
		}, want: Result{Candidates: []Candidate{
			{Rule: "a", MachineType: "cpu-cloud", Cluster: "cloud", Reason: "burst by rule a to cpu-cloud"},
			{Rule: "b", MachineType: "cpu-west", Cluster: "west", Reason: "burst by rule b to cpu-west"},
		}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			j := &structs.Job{ID: "j", Tenant: "acme", Team: "cfd", Owner: "alice", App: "solver",
				MachineType: "cpu-east", Nodes: 1, SubmitTime: t0}
			if tc.job != nil {
				tc.job(j)
			}
			v := newView()
			if tc.view != nil {
				tc.view(v)
			}
			got := New(tc.rules).Evaluate(j, t0.Add(tc.now), v)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWhy(t *testing.T) {
	if got := (Result{}).Why(); got != "no burst rule applies" {
		t.Errorf("empty: %q", got)
	}
	if got := (Result{Skipped: []string{"a", "b"}}).Why(); got != "a; b" {
		t.Errorf("skipped: %q", got)
	}
	var rs *Rules
	if rs.Has("x") || len(rs.Evaluate(&structs.Job{}, t0, newView()).Candidates) != 0 {
		t.Errorf("nil rules burst")
	}
}
