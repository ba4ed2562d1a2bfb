package structs

import "cmp"

// Rank orders priority classes: normal (and empty) 0, high 1, highest 2.
func (p PriorityClass) Rank() int {
	switch p {
	case PriorityHighest:
		return 2
	case PriorityHigh:
		return 1
	}
	return 0
}

// CompareQueue orders jobs in queue order: higher priority class first,
// then earlier submit time, then lower number, then id. It is a total order
// on jobs with distinct ids, so sorting by it does not depend on the order
// the jobs came in.
func CompareQueue(a, b *Job) int {
	if c := cmp.Compare(b.Priority.Rank(), a.Priority.Rank()); c != 0 {
		return c
	}
	if c := a.SubmitTime.Compare(b.SubmitTime); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Number, b.Number); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// EffectiveMachineType is the machine type the job runs (or would run) on:
// AssignedMachineType when a burst rule moved it, MachineType otherwise.
func (j *Job) EffectiveMachineType() string {
	if j.AssignedMachineType != "" {
		return j.AssignedMachineType
	}
	return j.MachineType
}
