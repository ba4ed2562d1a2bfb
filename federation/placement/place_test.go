package placement

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func TestPlace(t *testing.T) {
	seconds := func(n int) structs.Duration { return structs.Duration(time.Duration(n) * time.Second) }
	toWest := &structs.BurstRule{Name: "to-west", From: "cpu-east", To: []string{"cpu-west"}, After: seconds(5)}
	tests := map[string]struct {
		setup func(*Input)
		jobs  []*structs.Job
		want  Plan
	}{
		"pinned": {
			jobs: []*structs.Job{qjob("a", 1, nodes(2))},
			want: Plan{Assignments: []Assignment{{JobID: "a", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}}},
		},
		"submitted jobs are placed too": {
			jobs: []*structs.Job{qjob("a", 1, func(j *structs.Job) { j.State = structs.JobSubmitted })},
			want: Plan{Assignments: []Assignment{{JobID: "a", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}}},
		},
		"full, no burst rule": {
			setup: func(in *Input) { capacity(in, "east", "cpu-east", 0, 8) },
			jobs:  []*structs.Job{qjob("a", 1, nodes(2))},
			want:  Plan{Pending: []Pending{{JobID: "a", Reason: "east has 0 of 8 free cpu-east nodes, job needs 2; no burst rule applies"}}},
		},
		"burst after waiting": {
			setup: func(in *Input) {
				capacity(in, "east", "cpu-east", 0, 8)
				in.BurstRules = []*structs.BurstRule{toWest}
				in.Now = t0.Add(8 * time.Second)
			},
			jobs: []*structs.Job{qjob("a", 1, nodes(2))},
			want: Plan{Assignments: []Assignment{{JobID: "a", Cluster: "west", MachineType: "cpu-west", BurstRule: "to-west",
				Reason: "burst by rule to-west to cpu-west after 7s"}}},
		},
		"burst not yet": {
			setup: func(in *Input) {
				capacity(in, "east", "cpu-east", 0, 8)
				in.BurstRules = []*structs.BurstRule{toWest}
				in.Now = t0.Add(3 * time.Second)
			},
			jobs: []*structs.Job{qjob("a", 1, nodes(2))},
			want: Plan{Pending: []Pending{{JobID: "a", Reason: "east has 0 of 8 free cpu-east nodes, job needs 2; rule to-west: waited 2s of 5s"}}},
		},
		"burst target full too": {
			setup: func(in *Input) {
				capacity(in, "east", "cpu-east", 0, 8)
				capacity(in, "west", "cpu-west", 1, 8)
				in.BurstRules = []*structs.BurstRule{{Name: "when-full", From: "cpu-east", To: []string{"cpu-west"}, WhenFull: true}}
			},
			jobs: []*structs.Job{qjob("a", 1, nodes(2))},
			want: Plan{Pending: []Pending{{JobID: "a", Reason: "east has 0 of 8 free cpu-east nodes, job needs 2; " +
				"burst to cpu-west by rule when-full: west has 1 of 8 free cpu-west nodes, job needs 2"}}},
		},
		"app image not runnable on the machine type's arch": {
			setup: func(in *Input) {
				cluster(in, "east").Catalog = &structs.ClusterCatalog{Apps: map[string]structs.ClusterApp{
					"solver": {Image: "r/solver:1", Platforms: []string{"linux/arm64"}, MachineTypes: map[string]structs.AppOnMachineType{
						"cpu-east": {State: structs.AppNotRunnable, Reason: "image r/solver:1 has no linux/amd64 variant (has linux/arm64)"}}}}}
			},
			jobs: []*structs.Job{qjob("a", 1)},
			want: Plan{Pending: []Pending{{JobID: "a", Reason: "app solver cannot run on cpu-east in east: " +
				"image r/solver:1 has no linux/amd64 variant (has linux/arm64); no burst rule applies"}}},
		},
		"not runnable here, runnable on the burst target": {
			setup: func(in *Input) {
				cluster(in, "east").Catalog = &structs.ClusterCatalog{Apps: map[string]structs.ClusterApp{
					"solver": {MachineTypes: map[string]structs.AppOnMachineType{"cpu-east": {State: structs.AppNotRunnable, Reason: "arch"}}}}}
				cluster(in, "west").Catalog = &structs.ClusterCatalog{Apps: map[string]structs.ClusterApp{
					"solver": {MachineTypes: map[string]structs.AppOnMachineType{"cpu-west": {State: structs.AppReady, Nodes: 8, Ready: 8}}}}}
				in.BurstRules = []*structs.BurstRule{{Name: "anywhere", From: "cpu-east", To: []string{"cpu-west"}}}
			},
			jobs: []*structs.Job{qjob("a", 1)},
			want: Plan{Assignments: []Assignment{{JobID: "a", Cluster: "west", MachineType: "cpu-west", BurstRule: "anywhere",
				Reason: "burst by rule anywhere to cpu-west"}}},
		},
		"another app's report does not matter": {
			setup: func(in *Input) {
				cluster(in, "east").Catalog = &structs.ClusterCatalog{Apps: map[string]structs.ClusterApp{
					"itar-cfd": {MachineTypes: map[string]structs.AppOnMachineType{"cpu-east": {State: structs.AppNotRunnable, Reason: "arch"}}}}}
			},
			jobs: []*structs.Job{qjob("a", 1)},
			want: Plan{Assignments: []Assignment{{JobID: "a", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}}},
		},
		"burst to an elastic group at size 0": {
			setup: func(in *Input) {
				capacity(in, "east", "cpu-east", 0, 8)
				cluster(in, "west").Capacity["cpu-west"] = structs.Capacity{Free: 0, Total: 0, Grow: 3}
				in.BurstRules = []*structs.BurstRule{{Name: "when-full", From: "cpu-east", To: []string{"cpu-west"}, WhenFull: true}}
			},
			jobs: []*structs.Job{qjob("a", 1, nodes(2))},
			want: Plan{Assignments: []Assignment{{JobID: "a", Cluster: "west", MachineType: "cpu-west", BurstRule: "when-full",
				Reason: "burst by rule when-full to cpu-west: cpu-east has 0 free nodes, job needs 2"}}},
		},
		"elastic group too small for the gang": {
			setup: func(in *Input) {
				capacity(in, "east", "cpu-east", 0, 8)
				cluster(in, "west").Capacity["cpu-west"] = structs.Capacity{Free: 1, Total: 1, Grow: 2}
				in.BurstRules = []*structs.BurstRule{{Name: "when-full", From: "cpu-east", To: []string{"cpu-west"}, WhenFull: true}}
			},
			jobs: []*structs.Job{qjob("a", 1, nodes(4))},
			want: Plan{Pending: []Pending{{JobID: "a", Reason: "east has 0 of 8 free cpu-east nodes, job needs 4; " +
				"burst to cpu-west by rule when-full: west: the cpu-west node group grows to at most 3 nodes, job needs 4 (not scaled up)"}}},
		},
		"elastic growth is consumed within the pass": {
			setup: func(in *Input) {
				cluster(in, "east").Capacity["cpu-east"] = structs.Capacity{Free: 1, Total: 2, Grow: 2}
			},
			jobs: []*structs.Job{qjob("a", 1, nodes(3)), qjob("b", 2, nodes(1))},
			want: Plan{
				Assignments: []Assignment{{JobID: "a", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}},
				Pending:     []Pending{{JobID: "b", Reason: "east has 0 of 4 free cpu-east nodes, job needs 1; no burst rule applies"}},
			},
		},
		"capacity is consumed within the pass": {
			jobs: []*structs.Job{qjob("a", 1, nodes(4)), qjob("b", 2, nodes(4)), qjob("c", 3, nodes(1))},
			want: Plan{
				Assignments: []Assignment{
					{JobID: "a", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"},
					{JobID: "b", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"},
				},
				Pending: []Pending{{JobID: "c", Reason: "east has 0 of 8 free cpu-east nodes, job needs 1; no burst rule applies"}},
			},
		},
		"assigned jobs not yet bound are subtracted": {
			jobs: []*structs.Job{qjob("old", 0, nodes(4), state(structs.JobAssigned, "east")), qjob("a", 1, nodes(6))},
			want: Plan{Pending: []Pending{{JobID: "a", Reason: "east has 4 of 8 free cpu-east nodes, job needs 6; no burst rule applies"}}},
		},
		"priority class before submit time": {
			setup: func(in *Input) { capacity(in, "east", "cpu-east", 1, 8) },
			jobs:  []*structs.Job{qjob("early", 1), qjob("urgent", 2, prio(structs.PriorityHigh))},
			want: Plan{
				Assignments: []Assignment{{JobID: "urgent", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}},
				Pending:     []Pending{{JobID: "early", Reason: "east has 0 of 8 free cpu-east nodes, job needs 1; no burst rule applies"}},
			},
		},
		"a waiting job holds free nodes": {
			setup: func(in *Input) { capacity(in, "east", "cpu-east", 4, 8) },
			jobs:  []*structs.Job{qjob("big", 1, nodes(6)), qjob("small", 2, nodes(2))},
			want: Plan{Pending: []Pending{
				{JobID: "big", Reason: "east has 4 of 8 free cpu-east nodes, job needs 6; no burst rule applies"},
				{JobID: "small", Reason: "east: free cpu-east nodes held for earlier job big; no burst rule applies"},
			}},
		},
		"backfill": {
			setup: func(in *Input) { capacity(in, "east", "cpu-east", 4, 8); in.Options.Backfill = true },
			jobs:  []*structs.Job{qjob("big", 1, nodes(6)), qjob("small", 2, nodes(2))},
			want: Plan{
				Assignments: []Assignment{{JobID: "small", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}},
				Pending:     []Pending{{JobID: "big", Reason: "east has 4 of 8 free cpu-east nodes, job needs 6; no burst rule applies"}},
			},
		},
		"held nodes do not stop bursting elsewhere": {
			setup: func(in *Input) {
				capacity(in, "east", "cpu-east", 4, 8)
				in.BurstRules = []*structs.BurstRule{{Name: "when-full", From: "cpu-east", To: []string{"cpu-west"}, WhenFull: true}}
				capacity(in, "west", "cpu-west", 0, 8)
			},
			jobs: []*structs.Job{qjob("big", 1, nodes(6)), qjob("small", 2, nodes(2))},
			want: Plan{Pending: []Pending{
				{JobID: "big", Reason: "east has 4 of 8 free cpu-east nodes, job needs 6; burst to cpu-west by rule when-full: west has 0 of 8 free cpu-west nodes, job needs 6"},
				{JobID: "small", Reason: "east: free cpu-east nodes held for earlier job big; burst to cpu-west by rule when-full: west has 0 of 8 free cpu-west nodes, job needs 2"},
			}},
		},
		"a job too big for the machine type blocks nobody": {
			jobs: []*structs.Job{qjob("huge", 1, nodes(10)), qjob("small", 2, nodes(2))},
			want: Plan{
				Assignments: []Assignment{{JobID: "small", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}},
				Pending:     []Pending{{JobID: "huge", Reason: "east has 8 cpu-east nodes, job needs 10; no burst rule applies"}},
			},
		},
		"limits hold in queue order": {
			setup: func(in *Input) {
				in.Limits = []*structs.Limit{{Name: "acme-cores", Scope: structs.ScopeTenant, Tenant: "acme", Kind: structs.LimitTotalCores, Value: 24}}
			},
			jobs: []*structs.Job{
				qjob("run", 0, nodes(1), state(structs.JobRunning, "east")),
				qjob("a", 1, nodes(1)), qjob("b", 2, nodes(2)), qjob("c", 3, nodes(1)),
			},
			want: Plan{
				Assignments: []Assignment{{JobID: "a", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}},
				Held: []Held{
					{JobID: "b", Limit: "acme-cores", Reason: "tenant acme: 16 cores in use, limit 24 (job needs 16)"},
					{JobID: "c", Limit: "acme-cores", Reason: "tenant acme: waiting behind earlier job b, held by limit acme-cores"},
				},
			},
		},
		"HELD jobs are never assigned": {
			jobs: []*structs.Job{qjob("h", 1, func(j *structs.Job) { j.State = structs.JobHeld }), qjob("done", 2, state(structs.JobCompleted, "east"))},
			want: Plan{},
		},
		"export control keeps an app in its region": {
			setup: func(in *Input) {
				in.AccessRules = []*structs.AccessRule{{Name: "itar", Object: structs.AccessObjectApp, Match: "itar-*",
					Groups: []string{"us-persons"}, ClusterLabels: map[string]string{"region": "us"}}}
				in.BurstRules = []*structs.BurstRule{{Name: "eu-out", From: "cpu-eu", To: []string{"cpu-west"}}}
			},
			jobs: []*structs.Job{
				qjob("itar", 1, on("cpu-eu"), func(j *structs.Job) { j.App = "itar-cfd" }),
				qjob("plain", 2, on("cpu-eu")),
			},
			want: Plan{Assignments: []Assignment{
				{JobID: "itar", Cluster: "west", MachineType: "cpu-west", BurstRule: "eu-out", Reason: "burst by rule eu-out to cpu-west"},
				{JobID: "plain", Cluster: "eu", MachineType: "cpu-eu", Reason: "pinned to eu"},
			}},
		},
		"export control with nowhere to go": {
			setup: func(in *Input) {
				in.AccessRules = []*structs.AccessRule{{Name: "itar", Object: structs.AccessObjectApp, Match: "itar-*",
					ClusterLabels: map[string]string{"region": "us"}}}
			},
			jobs: []*structs.Job{qjob("itar", 1, on("cpu-eu"), func(j *structs.Job) { j.App = "itar-cfd" })},
			want: Plan{Pending: []Pending{{JobID: "itar", Reason: "access rule itar: cluster eu jobs using app itar-* need cluster label region=us; no burst rule applies"}}},
		},
		"burst target needs the user's group": {
			setup: func(in *Input) {
				capacity(in, "east", "cpu-east", 0, 8)
				in.BurstRules = []*structs.BurstRule{{Name: "to-gpu", From: "cpu-east", To: []string{"gpu-east", "cpu-west"}}}
			},
			jobs: []*structs.Job{qjob("a", 1)},
			want: Plan{Assignments: []Assignment{{JobID: "a", Cluster: "west", MachineType: "cpu-west", BurstRule: "to-gpu", Reason: "burst by rule to-gpu to cpu-west"}}},
		},
		"down cluster bursts when full": {
			setup: func(in *Input) {
				in.BurstRules = []*structs.BurstRule{{Name: "failover", From: "cpu-old", To: []string{"cpu-east"}, WhenFull: true}}
			},
			jobs: []*structs.Job{qjob("a", 1, on("cpu-old"), nodes(2)), qjob("b", 2, on("cpu-west"))},
			want: Plan{Assignments: []Assignment{
				{JobID: "a", Cluster: "east", MachineType: "cpu-east", BurstRule: "failover", Reason: "burst by rule failover to cpu-east: cpu-old has 0 free nodes, job needs 2"},
				{JobID: "b", Cluster: "west", MachineType: "cpu-west", Reason: "pinned to west"},
			}},
		},
		"down cluster without a rule": {
			jobs: []*structs.Job{qjob("a", 1, on("cpu-old"))},
			want: Plan{Pending: []Pending{{JobID: "a", Reason: "cluster old is down; no burst rule applies"}}},
		},
		"cluster never heard from": {
			setup: func(in *Input) { cluster(in, "east").Status = structs.ClusterUnknown },
			jobs:  []*structs.Job{qjob("a", 1)},
			want:  Plan{Pending: []Pending{{JobID: "a", Reason: "cluster east has not reported yet (no agent connected); no burst rule applies"}}},
		},
		"silent cluster": {
			setup: func(in *Input) {
				in.Options.HeartbeatTimeout = time.Minute
				cluster(in, "east").LastHeartbeat = t0.Add(-90 * time.Second)
			},
			jobs: []*structs.Job{qjob("a", 1)},
			want: Plan{Pending: []Pending{{JobID: "a", Reason: "cluster east not heard from for 1m30s; no burst rule applies"}}},
		},
		"vault zone pins the data": {
			jobs: []*structs.Job{qjob("a", 1, func(j *structs.Job) { j.Vault = "west-data" })},
			want: Plan{Pending: []Pending{{JobID: "a", Reason: "vault west-data is in zone us-west, cluster east in zone us-east; no burst rule applies"}}},
		},
		"max concurrent": {
			setup: func(in *Input) { in.MachineTypes[0].MaxConcurrent = 1 },
			jobs:  []*structs.Job{qjob("run", 0, state(structs.JobRunning, "east")), qjob("a", 1)},
			want:  Plan{Pending: []Pending{{JobID: "a", Reason: "1 cpu-east jobs running, max concurrent 1; no burst rule applies"}}},
		},
		"unknown machine type": {
			jobs: []*structs.Job{qjob("a", 1, on("n9"))},
			want: Plan{Pending: []Pending{{JobID: "a", Reason: "unknown machine type n9"}}},
		},
		"burst counts the target's limits": {
			setup: func(in *Input) {
				capacity(in, "east", "cpu-east", 0, 8)
				in.BurstRules = []*structs.BurstRule{{Name: "now", From: "cpu-east", To: []string{"cpu-west"}}}
				in.Limits = []*structs.Limit{{Name: "west-jobs", Scope: structs.ScopeUser, Tenant: "acme", User: "alice",
					Kind: structs.LimitConcurrentJobs, MachineType: "cpu-west", Value: 1}}
			},
			jobs: []*structs.Job{qjob("a", 1), qjob("b", 2)},
			want: Plan{
				Assignments: []Assignment{{JobID: "a", Cluster: "west", MachineType: "cpu-west", BurstRule: "now", Reason: "burst by rule now to cpu-west"}},
				Pending: []Pending{{JobID: "b", Reason: "east has 0 of 8 free cpu-east nodes, job needs 1; " +
					"burst to cpu-west by rule now: held: user acme/alice: 1 cpu-west jobs running, limit 1"}},
			},
		},
		"fair share across teams": {
			setup: func(in *Input) { capacity(in, "east", "cpu-east", 2, 8); in.Options.FairShare = true },
			jobs: []*structs.Job{
				qjob("cfd-run", 0, nodes(4), state(structs.JobRunning, "east")),
				qjob("cfd-1", 1), qjob("cfd-2", 2), qjob("ml-1", 3, by("ml", "bob")), qjob("ml-2", 4, by("ml", "bob")),
			},
			want: Plan{
				Assignments: []Assignment{
					{JobID: "ml-1", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"},
					{JobID: "ml-2", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"},
				},
				Pending: []Pending{
					{JobID: "cfd-1", Reason: "east has 0 of 8 free cpu-east nodes, job needs 1; no burst rule applies"},
					{JobID: "cfd-2", Reason: "east: free cpu-east nodes held for earlier job cfd-1; no burst rule applies"},
				},
			},
		},
		"fair share alternates": {
			setup: func(in *Input) { in.Options.FairShare = true },
			jobs:  []*structs.Job{qjob("cfd-1", 1), qjob("cfd-2", 2), qjob("ml-1", 3, by("ml", "bob")), qjob("ml-2", 4, by("ml", "bob"))},
			want: Plan{Assignments: []Assignment{
				{JobID: "cfd-1", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"},
				{JobID: "ml-1", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"},
				{JobID: "cfd-2", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"},
				{JobID: "ml-2", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"},
			}},
		},
		"fair share stays within a class": {
			setup: func(in *Input) { in.Options.FairShare = true },
			jobs: []*structs.Job{
				qjob("cfd-run", 0, nodes(4), state(structs.JobRunning, "east")),
				qjob("cfd-hi", 1, prio(structs.PriorityHighest)), qjob("ml-1", 2, by("ml", "bob")),
			},
			want: Plan{Assignments: []Assignment{
				{JobID: "cfd-hi", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"},
				{JobID: "ml-1", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"},
			}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := world()
			if tc.setup != nil {
				tc.setup(&in)
			}
			in.Jobs = tc.jobs
			got := Place(in)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Place (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExpiredAssignments(t *testing.T) {
	jobs := []*structs.Job{
		qjob("fresh", 1, state(structs.JobAssigned, "east"), func(j *structs.Job) { j.AssignTime = t0.Add(time.Minute) }),
		qjob("late", 2, state(structs.JobAssigned, "west")),
		qjob("late-high", 3, state(structs.JobAssigned, "east"), prio(structs.PriorityHigh)),
		qjob("started", 4, state(structs.JobStarting, "east")),
		qjob("queued", 5),
	}
	tests := map[string]struct {
		now     time.Time
		timeout time.Duration
		want    []Requeue
	}{
		"none late": {t0.Add(time.Minute), 2 * time.Minute, nil},
		"at the deadline": {t0.Add(2 * time.Minute), 2 * time.Minute, []Requeue{
			{JobID: "late-high", Cluster: "east", Reason: "not accepted by east within 2m0s"},
			{JobID: "late", Cluster: "west", Reason: "not accepted by west within 2m0s"},
		}},
		"all assigned late": {t0.Add(time.Hour), 2 * time.Minute, []Requeue{
			{JobID: "late-high", Cluster: "east", Reason: "not accepted by east within 2m0s"},
			{JobID: "fresh", Cluster: "east", Reason: "not accepted by east within 2m0s"},
			{JobID: "late", Cluster: "west", Reason: "not accepted by west within 2m0s"},
		}},
		"no timeout": {t0.Add(time.Hour), 0, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ExpiredAssignments(jobs, tc.now, tc.timeout), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ExpiredAssignments (-want +got):\n%s", diff)
			}
		})
	}
}
