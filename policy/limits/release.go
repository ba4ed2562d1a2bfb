package limits

import (
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// HeldJob is a job that stays held, and why.
type HeldJob struct {
	JobID string
	Hold  Hold
}

// Released is the outcome of Release: jobs to move from HELD to QUEUED and
// jobs that stay held, both in queue order.
type Released struct {
	Released []string
	Held     []HeldJob
}

// Release re-evaluates the HELD jobs among jobs (others are ignored) in
// queue order (structs.CompareQueue) against limits ls and usage u, on the
// machine type each was submitted for. Each released job is counted
// against the jobs after it, so Release never frees more than fits at
// once; a job still held blocks later jobs counted by the same limit.
// Call it whenever a job ends or a limit changes. QUEUED jobs are not
// counted (they hold nothing yet): placement checks limits again and
// holds what does not fit when it comes to place them.
func Release(jobs []*structs.Job, mts map[string]*structs.MachineType, u *Usage, ls []*structs.Limit) Released {
	var held []*structs.Job
	for _, j := range jobs {
		if j.State == structs.JobHeld {
			held = append(held, j)
		}
	}
	slices.SortFunc(held, structs.CompareQueue)
	var out Released
	l := NewLedger(ls, u)
	for _, j := range held {
		mt := mts[j.MachineType]
		if h := l.Check(j, mt); h != nil {
			l.Block(j, h)
			out.Held = append(out.Held, HeldJob{JobID: j.ID, Hold: *h})
			continue
		}
		l.Admit(j, mt)
		out.Released = append(out.Released, j.ID)
	}
	return out
}
