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

// QueuePosition answers GET /v1/jobs/{id}/queue: where a job waiting for
// placement stands among the jobs waiting for the same machine type, as
// Kueue and Armada show queued work. Position is 1 for the next job to
// be decided; 0 when the job does not wait for placement (HELD jobs wait
// for a limit, not for the queue). The order is the dispatcher's queue
// order (CompareQueue: priority class, then submit time); fair share may
// reorder jobs of one class between passes.
type QueuePosition struct {
	JobID       string   `json:"job_id"`
	Number      uint64   `json:"number"`
	State       JobState `json:"state"`
	MachineType string   `json:"machine_type"`
	Position    int      `json:"position"`
	// Waiting counts the jobs waiting for the machine type, this one
	// included (any tenant's: counts only, never whose).
	Waiting int `json:"waiting"`
}

// PositionIn returns j's QueuePosition among waiting, the jobs waiting for
// placement (SUBMITTED or QUEUED); jobs of other machine types are
// ignored.
func PositionIn(j *Job, waiting []*Job) QueuePosition {
	p := QueuePosition{JobID: j.ID, Number: j.Number, State: j.State, MachineType: j.EffectiveMachineType()}
	if j.State != JobQueued && j.State != JobSubmitted {
		return p
	}
	p.Position = 1
	for _, o := range waiting {
		if o.EffectiveMachineType() != p.MachineType || (o.State != JobQueued && o.State != JobSubmitted) {
			continue
		}
		p.Waiting++
		if o.ID != j.ID && CompareQueue(o, j) < 0 {
			p.Position++
		}
	}
	return p
}
