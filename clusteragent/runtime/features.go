package runtime

import (
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// features are the job fields this runtime honours (structs.AgentFeature),
// the one list of them: the agent reports it to the hub with every status
// push, and the hub places a job needing a feature (structs.Job.NeedsFeatures)
// only on clusters whose agent lists it. A feature goes here in the change
// that implements it, never before:
//
//   - job-env: Job.Env as Secret entries the containers reference (jobenv.go);
//   - job-workdir: Job.Workdir as flotilla-init's --workdir (jobenv.go);
//   - array-jobs: Job.Array run by flotilla-init's array mode, with its
//     progress, task cancels and outputs (arrayprogress.go, arraycancel.go,
//     arrayoutput.go);
//   - array-index-lists: an array's index list (structs.ArraySpec.Ranges)
//     decoded, rendered as flotilla-init's --array and run by its
//     dispatcher (pods.go, initproc/arraytask);
//   - array-cpu-bind: an array job's CPU binding, the job variable
//     structs.ArrayTaskCPUBindVar, read by flotilla-init (initproc/arraytask
//     cpubind.go).
//   - job-signals: Job.Signals written on the job's pods and delivered
//     by flotilla-init's --signals-file (signals.go, initproc/signals.go);
//   - job-signal-at: a signal before the walltime ends (the job variable
//     structs.JobSignalAtVar), sent by flotilla-init from the pods' start
//     the agent writes on them (pods.go, signals.go, initproc/signal_at.go).
var features = []structs.AgentFeature{
	structs.FeatureArrayCPUBind,
	structs.FeatureArrayIndexLists,
	structs.FeatureArrayJobs,
	structs.FeatureJobEnv,
	structs.FeatureJobShares,
	structs.FeatureJobSignalAt,
	structs.FeatureJobSignals,
	structs.FeatureJobWorkdir,
}

// Features returns the features this runtime honours, sorted, less those
// named in without (a test-only way to stand in for an older agent; see
// agent.Config.WithoutFeatures).
func Features(without ...structs.AgentFeature) []structs.AgentFeature {
	out := slices.DeleteFunc(slices.Clone(features), func(f structs.AgentFeature) bool { return slices.Contains(without, f) })
	slices.Sort(out)
	return out
}
