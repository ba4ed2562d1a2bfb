package placement

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestPlaceByAgentFeatures: with agents' features recorded, a job needing
// one (its environment, working directory, array) goes only to a cluster
// whose agent lists it, a burst rule skips such clusters the same way,
// an agent that never reported features runs none, and the job waits
// with a reason naming the cluster, the feature and the fix. While the
// hub does not record features (a rolling upgrade), nothing changes.
func TestPlaceByAgentFeatures(t *testing.T) {
	all := &structs.AgentInfo{Version: "v2.0.0", Features: []structs.AgentFeature{
		structs.FeatureArrayJobs, structs.FeatureJobEnv, structs.FeatureJobWorkdir}}
	noEnv := &structs.AgentInfo{Version: "v1.9.0", Features: []structs.AgentFeature{structs.FeatureArrayJobs, structs.FeatureJobWorkdir}}
	signalAt := &structs.AgentInfo{Version: "v2.2.0", Features: append([]structs.AgentFeature{structs.FeatureJobSignalAt}, all.Features...)}
	signalAt.Normalize()
	withEnv := func(j *structs.Job) { j.Env = map[string]string{"CASE": "3"} }
	withDir := func(j *structs.Job) { j.Workdir = "/scratch/case" }
	array := func(j *structs.Job) { j.Array = &structs.ArrayJob{Spec: structs.ArraySpec{Start: 1, End: 10}} }
	agents := func(east, west *structs.AgentInfo) func(*Input) {
		return func(in *Input) {
			in.AgentFeatures = true
			cluster(in, "east").Agent, cluster(in, "west").Agent = east, west
		}
	}
	anywhere := []*structs.BurstRule{{Name: "anywhere", From: "cpu-east", To: []string{"cpu-west"}}}
	tests := map[string]struct {
		setup func(*Input)
		jobs  []*structs.Job
		want  Plan
	}{
		"every feature listed": {
			setup: agents(all, all),
			jobs:  []*structs.Job{qjob("a", 1, withEnv, withDir, array)},
			want:  Plan{Assignments: []Assignment{{JobID: "a", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}}},
		},
		"environment on an agent without job-env": {
			setup: agents(noEnv, all),
			jobs:  []*structs.Job{qjob("a", 1, withEnv)},
			want: Plan{Pending: []Pending{{JobID: "a", Reason: "cluster east's agent does not run jobs with an environment (--export): " +
				"upgrade its agent (it runs v1.9.0); no burst rule applies"}}},
		},
		"an index list only where the agent runs lists": {
			setup: agents(all, &structs.AgentInfo{Version: "v2.1.0", Features: append([]structs.AgentFeature{structs.FeatureArrayIndexLists}, all.Features...)}),
			jobs: []*structs.Job{qjob("a", 1, func(j *structs.Job) {
				spec, _ := structs.ParseArraySpec("1,3,7-9")
				j.Array = &structs.ArrayJob{Spec: spec}
			}), qjob("b", 2, array)},
			want: Plan{Assignments: []Assignment{{JobID: "b", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}},
				Pending: []Pending{{JobID: "a", Reason: "cluster east's agent does not run array jobs with index lists (--array=1,3,7): " +
					"upgrade its agent (it runs v2.0.0); no burst rule applies"}}},
		},
		"a signal before the walltime only where the agent sends it": {
			setup: agents(all, signalAt),
			jobs: []*structs.Job{qjob("a", 1, func(j *structs.Job) {
				j.Env = map[string]string{structs.JobSignalAtVar: "B:USR1@120"}
			}), qjob("b", 2, withEnv)},
			want: Plan{Assignments: []Assignment{{JobID: "b", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}},
				Pending: []Pending{{JobID: "a", Reason: "cluster east's agent does not run jobs with a signal before the walltime ends (--signal): " +
					"upgrade its agent (it runs v2.0.0); no burst rule applies"}}},
		},
		"a signal before the walltime bursts to the agent that sends it": {
			setup: func(in *Input) {
				agents(all, signalAt)(in)
				in.BurstRules = anywhere
			},
			jobs: []*structs.Job{qjob("a", 1, func(j *structs.Job) { j.Env = map[string]string{structs.JobSignalAtVar: "USR1@60"} })},
			want: Plan{Assignments: []Assignment{{JobID: "a", Cluster: "west", MachineType: "cpu-west", BurstRule: "anywhere",
				Reason: "burst by rule anywhere to cpu-west"}}},
		},
		"a plain job still goes there": {
			setup: agents(noEnv, all),
			jobs:  []*structs.Job{qjob("a", 1), qjob("b", 2, withDir, array)},
			want: Plan{Assignments: []Assignment{{JobID: "a", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"},
				{JobID: "b", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}}},
		},
		"burst to the cluster that has it": {
			setup: func(in *Input) { agents(noEnv, all)(in); in.BurstRules = anywhere },
			jobs:  []*structs.Job{qjob("a", 1, withEnv)},
			want: Plan{Assignments: []Assignment{{JobID: "a", Cluster: "west", MachineType: "cpu-west", BurstRule: "anywhere",
				Reason: "burst by rule anywhere to cpu-west"}}},
		},
		"burst skips a target without it": {
			setup: func(in *Input) {
				agents(all, noEnv)(in)
				capacity(in, "east", "cpu-east", 0, 8)
				in.BurstRules = anywhere
			},
			jobs: []*structs.Job{qjob("a", 1, withEnv)},
			want: Plan{Pending: []Pending{{JobID: "a", Reason: "east has 0 of 8 free cpu-east nodes, job needs 1; " +
				"burst to cpu-west by rule anywhere: cluster west's agent does not run jobs with an environment (--export): " +
				"upgrade its agent (it runs v1.9.0)"}}},
		},
		"an agent that never reported features runs none": {
			setup: agents(nil, all),
			jobs:  []*structs.Job{qjob("a", 1, array), qjob("b", 2)},
			want: Plan{
				Assignments: []Assignment{{JobID: "b", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}},
				Pending: []Pending{{JobID: "a", Reason: "cluster east's agent does not run array jobs (--array): upgrade its agent " +
					"(it reports no features: a release older than feature reports); no burst rule applies"}}},
		},
		"working directory": {
			setup: agents(&structs.AgentInfo{Features: []structs.AgentFeature{structs.FeatureJobEnv}}, all),
			jobs:  []*structs.Job{qjob("a", 1, withEnv, withDir)},
			want: Plan{Pending: []Pending{{JobID: "a", Reason: "cluster east's agent does not run jobs with a working directory (--chdir): " +
				"upgrade its agent; no burst rule applies"}}},
		},
		"features not recorded yet (rolling upgrade): placed as before": {
			setup: func(in *Input) { agents(nil, noEnv)(in); in.AgentFeatures = false },
			jobs:  []*structs.Job{qjob("a", 1, withEnv, withDir, array)},
			want:  Plan{Assignments: []Assignment{{JobID: "a", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}}},
		},
		"a cluster not reporting yet says so first": {
			setup: func(in *Input) { agents(nil, all)(in); cluster(in, "east").Status = structs.ClusterUnknown },
			jobs:  []*structs.Job{qjob("a", 1, withEnv)},
			want:  Plan{Pending: []Pending{{JobID: "a", Reason: "cluster east has not reported yet (no agent connected); no burst rule applies"}}},
		},
		"a job waiting for a feature holds no nodes": {
			setup: agents(noEnv, all),
			jobs:  []*structs.Job{qjob("a", 1, withEnv, nodes(8)), qjob("b", 2, nodes(8))},
			want: Plan{
				Assignments: []Assignment{{JobID: "b", Cluster: "east", MachineType: "cpu-east", Reason: "pinned to east"}},
				Pending: []Pending{{JobID: "a", Reason: "cluster east's agent does not run jobs with an environment (--export): " +
					"upgrade its agent (it runs v1.9.0); no burst rule applies"}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := world()
			if tc.setup != nil {
				tc.setup(&in)
			}
			in.Jobs = tc.jobs
			if diff := cmp.Diff(tc.want, Place(in)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}
