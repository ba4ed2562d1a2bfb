package structs

import (
	"testing"
	"time"
)

func TestPositionIn(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	job := func(id string, n uint64, st JobState, mt string, pri PriorityClass, at int) *Job {
		return &Job{ID: id, Number: n, State: st, MachineType: mt, Priority: pri, SubmitTime: t0.Add(time.Duration(at) * time.Second)}
	}
	a := job("a", 1, JobQueued, "n1", "", 0)
	b := job("b", 2, JobQueued, "n1", "", 1)
	c := job("c", 3, JobSubmitted, "n1", PriorityHigh, 2)
	other := job("d", 4, JobQueued, "g1", PriorityHighest, 0)
	held := job("e", 5, JobHeld, "n1", "", 0)
	burst := job("f", 6, JobQueued, "n2", "", 0)
	burst.AssignedMachineType = "n1"
	waiting := []*Job{a, b, c, other, held, burst}
	tests := map[string]struct {
		j             *Job
		pos, waitingN int
	}{
		"high priority first":           {c, 1, 4},
		"earliest normal next":          {a, 2, 4},
		"same time: lower number first": {burst, 3, 4},
		"last":                          {b, 4, 4},
		"other machine type alone":      {other, 1, 1},
		"held waits for a limit":        {held, 0, 0},
		"running job has no position":   {job("g", 7, JobRunning, "n1", "", 0), 0, 0},
		"not in the list is still last": {job("h", 8, JobQueued, "n1", "", 9), 5, 4},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := PositionIn(tc.j, waiting)
			if p.Position != tc.pos || p.Waiting != tc.waitingN || p.JobID != tc.j.ID {
				t.Errorf("PositionIn(%s) = %+v, want position %d of %d", tc.j.ID, p, tc.pos, tc.waitingN)
			}
		})
	}
}
