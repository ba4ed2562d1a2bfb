package placement

import (
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// DependencyInput is what the dependency check reads: the active jobs
// (those waiting for their dependency among them) and the jobs their
// conditions name, by number, that are not active (ended). A number in
// neither is a job no longer known (purged). Nothing in it is modified.
type DependencyInput struct {
	Jobs  []*structs.Job
	Ended map[uint64]*structs.Job
}

// DependencyDecision is one waiting job's fate in a pass.
type DependencyDecision struct {
	JobID string
	// Reason is the job's new substatus.
	Reason string
}

// DependencyPlan is what a pass decides about jobs waiting for their
// dependency (structs.Job.WaitsForDependency), in queue order.
type DependencyPlan struct {
	// Released may be queued: their dependency holds.
	Released []DependencyDecision
	// Ended can never run: their dependency can never hold (Slurm's
	// --kill-on-invalid-dep=yes); the hub cancels them.
	Ended []DependencyDecision
	// Waiting wait on, with a reason that changed since it was written.
	Waiting []DependencyDecision
}

// Dependencies decides which jobs held for their dependency are released
// or ended now. It is pure: the same input gives the same plan. A job
// held for its dependency is never counted against limits nor placed
// (placement ignores HELD jobs), so releasing it is the only way on.
func Dependencies(in DependencyInput) DependencyPlan {
	var waiting []*structs.Job
	for _, j := range in.Jobs {
		if j.WaitsForDependency() {
			waiting = append(waiting, j)
		}
	}
	if len(waiting) == 0 {
		return DependencyPlan{} // the common pass: no map of the queue
	}
	byNumber := make(map[uint64]*structs.Job, len(in.Jobs))
	for _, j := range in.Jobs {
		byNumber[j.Number] = j
	}
	slices.SortFunc(waiting, structs.CompareQueue)
	lookup := func(n uint64) *structs.Job {
		if j := byNumber[n]; j != nil {
			return j
		}
		return in.Ended[n]
	}
	var plan DependencyPlan
	for _, j := range waiting {
		verdict, why := j.Dependency.Evaluate(lookup)
		switch verdict {
		case structs.DependencyHolds:
			plan.Released = append(plan.Released, DependencyDecision{JobID: j.ID, Reason: "released: dependency " + why})
		case structs.DependencyNever:
			plan.Ended = append(plan.Ended, DependencyDecision{JobID: j.ID,
				Reason: structs.DependencyNeverSatisfied + ": " + j.Dependency.String() + " can never be satisfied: " + why})
		default:
			if reason := structs.DependencyReason + ": " + why; reason != j.Substatus {
				plan.Waiting = append(plan.Waiting, DependencyDecision{JobID: j.ID, Reason: reason})
			}
		}
	}
	return plan
}

// DependencyNumbers are the numbers of the jobs that the conditions of the
// jobs waiting for their dependency name: what a caller reads into
// DependencyInput.Ended when they are not among the active jobs.
func DependencyNumbers(jobs []*structs.Job) []uint64 {
	var out []uint64
	for _, j := range jobs {
		if !j.WaitsForDependency() {
			continue
		}
		for _, c := range j.Dependency.Conditions {
			out = append(out, c.Job)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
