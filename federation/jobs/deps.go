package jobs

import (
	"errors"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// dependency resolves a submission's dependency (Slurm's syntax, see
// structs.ParseDependency) against snap for caller and sets j's
// Dependency and initial state: QUEUED when it holds already, HELD with a
// structs.DependencyReason substatus while it waits. A job the caller may
// not read is "not found", as one that does not exist or was purged; a
// dependency that can never hold is refused. Only jobs stored before this
// one can be named, so dependencies never form a cycle.
func dependency(snap Snapshot, caller *authz.Identity, spec string, j *structs.Job) error {
	if spec == "" {
		return nil
	}
	refs, anyOf, err := structs.ParseDependency(spec)
	if err != nil {
		return err
	}
	d := &structs.JobDependency{Any: anyOf}
	known := map[uint64]*structs.Job{}
	for _, r := range refs {
		dep, err := dependencyJob(snap, caller, r.Ref)
		if err != nil {
			return err
		}
		known[dep.Number] = dep
		d.Conditions = append(d.Conditions, structs.DependencyCondition{Type: r.Type, Job: dep.Number})
	}
	j.Dependency = d
	verdict, why := d.Evaluate(func(n uint64) *structs.Job { return known[n] })
	switch verdict {
	case structs.DependencyNever:
		return &structs.FieldError{Object: "job", Field: "dependency", Msg: d.String() + " can never be satisfied: " + why}
	case structs.DependencyWaits:
		j.State, j.Substatus = structs.JobHeld, structs.DependencyReason+": "+why
	}
	return nil
}

// dependencyJob finds the job ref names (a number or an id) if caller may
// read it; otherwise, as when there is none, the error says not found.
func dependencyJob(snap Snapshot, caller *authz.Identity, ref string) (*structs.Job, error) {
	var j *structs.Job
	var err error
	if n, perr := strconv.ParseUint(ref, 10, 64); perr == nil {
		j, err = snap.JobByNumber(n)
	} else {
		j, err = snap.JobRef(ref)
	}
	if err == nil && caller.CheckReadJob(j) != nil {
		err = structs.ErrNotFound
	}
	if errors.Is(err, structs.ErrNotFound) {
		return nil, &structs.FieldError{Object: "job", Field: "dependency", Msg: "job " + strings.TrimSpace(ref) + " not found (unknown, purged, or not yours to read)"}
	}
	return j, err
}
