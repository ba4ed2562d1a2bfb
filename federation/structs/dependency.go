package structs

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// DependencyType is how a job depends on an earlier one (Slurm's
// sbatch --dependency types).
type DependencyType string

// Dependency types.
const (
	// DependAfter holds once the earlier job started, or ended without
	// starting (Slurm's "after": begun or cancelled).
	DependAfter DependencyType = "after"
	// DependAfterAny holds once the earlier job ended, however.
	DependAfterAny DependencyType = "afterany"
	// DependAfterOK holds once the earlier job COMPLETED (exit 0).
	DependAfterOK DependencyType = "afterok"
	// DependAfterNotOK holds once the earlier job ended in any other
	// way: COMPLETED_WITH_ERROR, TERMINATED or CANCELED.
	DependAfterNotOK DependencyType = "afternotok"
)

// Valid reports whether t is a known type.
func (t DependencyType) Valid() bool {
	switch t {
	case DependAfter, DependAfterAny, DependAfterOK, DependAfterNotOK:
		return true
	}
	return false
}

// MaxDependencies bounds the conditions of one job's dependency.
const MaxDependencies = 64

// DependencyReason begins the substatus of a job that waits in HELD for
// its dependency (Slurm's reason "Dependency"). It is what tells such a
// job from one a limit holds: only the dependency check releases it.
const DependencyReason = "Dependency"

// DependencyNeverSatisfied begins the substatus of a job ended because
// its dependency can never hold (Slurm's "DependencyNeverSatisfied").
const DependencyNeverSatisfied = "DependencyNeverSatisfied"

// DependencyCondition is one condition: a type and the earlier job's
// number (numbers are never used again, unlike ids).
type DependencyCondition struct {
	Type DependencyType `json:"type"`
	Job  uint64         `json:"job"`
}

// JobDependency is what a job waits for before it may be queued: every
// condition (Slurm's "," form), or, with Any, one of them (the "?" form).
type JobDependency struct {
	Any        bool                  `json:"any,omitempty"`
	Conditions []DependencyCondition `json:"conditions"`
}

// Copy returns a deep copy of d.
func (d *JobDependency) Copy() *JobDependency {
	if d == nil {
		return nil
	}
	c := *d
	c.Conditions = slices.Clone(d.Conditions)
	return &c
}

// String is d in Slurm's form, e.g. "afterok:12:13,after:14" (conditions
// of one type in a row share it).
func (d *JobDependency) String() string {
	if d == nil {
		return ""
	}
	sep := ","
	if d.Any {
		sep = "?"
	}
	var b strings.Builder
	for i, c := range d.Conditions {
		if i == 0 || d.Conditions[i-1].Type != c.Type {
			if i > 0 {
				b.WriteString(sep)
			}
			b.WriteString(string(c.Type))
		}
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(c.Job, 10))
	}
	return b.String()
}

// DependencyRef is one condition as a submitter wrote it: the earlier
// job named by number or id, not yet resolved.
type DependencyRef struct {
	Type DependencyType
	Ref  string
}

// ParseDependency reads Slurm's --dependency syntax: TYPE:JOB[:JOB...]
// joined by "," (all must hold) or by "?" (any one), not both. JOB is a
// job number or id. Slurm's other forms (singleton, aftercorr, +time)
// are refused with a reason.
func ParseDependency(s string) (refs []DependencyRef, anyOf bool, err error) {
	bad := func(format string, args ...any) error {
		return &FieldError{Object: "job", Field: "dependency", Msg: strconv.Quote(s) + ": " + fmt.Sprintf(format, args...)}
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, false, bad("is empty")
	}
	hasAll, hasAny := strings.Contains(s, ","), strings.Contains(s, "?")
	if hasAll && hasAny {
		return nil, false, bad(`mixes "," (all) and "?" (any)`)
	}
	sep := ","
	if hasAny {
		sep, anyOf = "?", true
	}
	for _, part := range strings.Split(s, sep) {
		typ, jobs, ok := strings.Cut(part, ":")
		t := DependencyType(strings.ToLower(strings.TrimSpace(typ)))
		switch {
		case t == "singleton" || t == "aftercorr" || t == "afterburstbuffer":
			return nil, false, bad("%s is not supported (after, afterany, afterok, afternotok are)", t)
		case !t.Valid():
			return nil, false, bad("unknown type %q (want after, afterany, afterok or afternotok)", typ)
		case !ok:
			return nil, false, bad("%s names no job (%s:JOB[:JOB...])", t, t)
		}
		for _, ref := range strings.Split(jobs, ":") {
			ref = strings.TrimSpace(ref)
			switch {
			case ref == "":
				return nil, false, bad("%s: empty job", t)
			case strings.Contains(ref, "+"):
				return nil, false, bad("%s: a time offset (+MINUTES) is not supported", ref)
			case strings.Contains(ref, "_"):
				return nil, false, bad("%s: a dependency on one array task is not supported (name the array job)", ref)
			}
			if n, err := strconv.ParseUint(ref, 10, 64); err == nil {
				if n == 0 {
					return nil, false, bad("job 0 does not exist")
				}
			} else if strings.Trim(ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" || len(ref) > 64 {
				return nil, false, bad("%q is not a job number or id", ref)
			}
			refs = append(refs, DependencyRef{Type: t, Ref: ref})
			if len(refs) > MaxDependencies {
				return nil, false, bad("more than %d jobs", MaxDependencies)
			}
		}
	}
	return refs, anyOf, nil
}

// DependencyVerdict is what a dependency's conditions say now.
type DependencyVerdict int

// Verdicts.
const (
	DependencyWaits DependencyVerdict = iota // not yet decided
	DependencyHolds                          // the job may be queued
	DependencyNever                          // can never hold: the job ends
)

// Holds reports whether condition c holds for the earlier job j (nil: no
// longer known), and whether it never can: conditions are monotonic,
// since nothing leaves a terminal state and a start is never undone.
func (c DependencyCondition) Holds(j *Job) (holds, never bool) {
	if j == nil {
		return false, true
	}
	ended := j.State.IsTerminal()
	switch c.Type {
	case DependAfter:
		return ended || j.State.Started() || !j.StartTime.IsZero(), false
	case DependAfterAny:
		return ended, false
	case DependAfterOK:
		return j.State == JobCompleted, ended && j.State != JobCompleted
	case DependAfterNotOK:
		return ended && j.State != JobCompleted, j.State == JobCompleted
	}
	return false, true
}

// Evaluate says whether d holds, given the earlier jobs by number (a
// number missing from jobs is a job no longer known: purged). The reason
// names the conditions that decide, for the job's substatus.
func (d *JobDependency) Evaluate(jobs func(number uint64) *Job) (DependencyVerdict, string) {
	if d == nil || len(d.Conditions) == 0 {
		return DependencyHolds, ""
	}
	var waiting, never []string
	held := 0
	for _, c := range d.Conditions {
		j := jobs(c.Job)
		holds, no := c.Holds(j)
		switch {
		case holds:
			held++
			if d.Any {
				return DependencyHolds, string(c.Type) + ":" + strconv.FormatUint(c.Job, 10) + " holds"
			}
		case no:
			never = append(never, conditionText(c, j))
		default:
			// Without the earlier job's state: the reason changes (a
			// raft write) only when a condition comes to hold.
			waiting = append(waiting, string(c.Type)+":"+strconv.FormatUint(c.Job, 10))
		}
	}
	switch {
	case !d.Any && len(never) > 0:
		return DependencyNever, strings.Join(never, "; ")
	case d.Any && len(waiting) == 0:
		return DependencyNever, strings.Join(never, "; ")
	case held == len(d.Conditions):
		return DependencyHolds, d.String() + " holds"
	}
	sep := ", "
	if d.Any {
		sep = " or "
	}
	return DependencyWaits, "waits for " + strings.Join(waiting, sep)
}

// conditionText describes condition c with the earlier job's state.
func conditionText(c DependencyCondition, j *Job) string {
	s := string(c.Type) + ":" + strconv.FormatUint(c.Job, 10)
	if j == nil {
		return s + " (job " + strconv.FormatUint(c.Job, 10) + " is no longer known)"
	}
	return s + " (job " + strconv.FormatUint(c.Job, 10) + " is " + string(j.State) + ")"
}

// WaitsForDependency reports whether j is held for its dependency (not
// for a limit): only the dependency check releases or ends it.
func (j *Job) WaitsForDependency() bool {
	return j.State == JobHeld && j.Dependency != nil && strings.HasPrefix(j.Substatus, DependencyReason+":")
}
