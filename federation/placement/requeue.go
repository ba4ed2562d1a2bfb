package placement

import (
	"slices"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Requeue is an assignment to take back: the job returns to QUEUED.
type Requeue struct {
	JobID   string
	Cluster string
	Reason  string // "not accepted by east within 2m0s"
}

// ExpiredAssignments returns the ASSIGNED jobs among jobs that no agent accepted
// (moved to STARTING or beyond) within timeout of their assignment, in
// queue order. A non-positive timeout requeues nothing. ASSIGNED is the
// only state that may return to QUEUED, so a job whose pods may exist is
// never requeued.
func ExpiredAssignments(jobs []*structs.Job, now time.Time, timeout time.Duration) []Requeue {
	if timeout <= 0 {
		return nil
	}
	var late []*structs.Job
	for _, j := range jobs {
		if j.State == structs.JobAssigned && !now.Before(j.AssignTime.Add(timeout)) {
			late = append(late, j)
		}
	}
	slices.SortFunc(late, structs.CompareQueue)
	out := make([]Requeue, 0, len(late))
	for _, j := range late {
		out = append(out, Requeue{JobID: j.ID, Cluster: j.Cluster,
			Reason: "not accepted by " + j.Cluster + " within " + timeout.String()})
	}
	return out
}
