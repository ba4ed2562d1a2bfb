package placement

import (
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

func TestDependencies(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	job := func(n uint64, st structs.JobState) *structs.Job {
		return &structs.Job{ID: "j" + string(rune('0'+n)), Number: n, State: st, SubmitTime: t0.Add(time.Duration(n) * time.Second),
			Priority: structs.PriorityNormal}
	}
	waiting := func(n uint64, anyOf bool, substatus string, cs ...structs.DependencyCondition) *structs.Job {
		j := job(n, structs.JobHeld)
		j.Dependency = &structs.JobDependency{Any: anyOf, Conditions: cs}
		j.Substatus = substatus
		return j
	}
	ok := func(n uint64) structs.DependencyCondition {
		return structs.DependencyCondition{Type: structs.DependAfterOK, Job: n}
	}
	after := func(n uint64) structs.DependencyCondition {
		return structs.DependencyCondition{Type: structs.DependAfter, Job: n}
	}
	cases := map[string]struct {
		in   DependencyInput
		want DependencyPlan
	}{
		"none waits": {in: DependencyInput{Jobs: []*structs.Job{job(1, structs.JobQueued)}}},
		"waits while the earlier job runs, reason unchanged: nothing": {in: DependencyInput{Jobs: []*structs.Job{
			job(1, structs.JobRunning), waiting(2, false, "Dependency: waits for afterok:1", ok(1))}}},
		"released when the earlier job completed (ended, read apart)": {
			in: DependencyInput{Jobs: []*structs.Job{waiting(2, false, "Dependency: waits for afterok:1", ok(1))},
				Ended: map[uint64]*structs.Job{1: job(1, structs.JobCompleted)}},
			want: DependencyPlan{Released: []DependencyDecision{{JobID: "j2", Reason: "released: dependency afterok:1 holds"}}}},
		"ended when the earlier job failed": {
			in: DependencyInput{Jobs: []*structs.Job{waiting(2, false, "Dependency: waits for afterok:1", ok(1))},
				Ended: map[uint64]*structs.Job{1: job(1, structs.JobCompletedWithError)}},
			want: DependencyPlan{Ended: []DependencyDecision{{JobID: "j2",
				Reason: "DependencyNeverSatisfied: afterok:1 can never be satisfied: afterok:1 (job 1 is COMPLETED_WITH_ERROR)"}}}},
		"ended when the earlier job is no longer known": {
			in: DependencyInput{Jobs: []*structs.Job{waiting(2, false, "Dependency: waits for afterok:1", ok(1))}},
			want: DependencyPlan{Ended: []DependencyDecision{{JobID: "j2",
				Reason: "DependencyNeverSatisfied: afterok:1 can never be satisfied: afterok:1 (job 1 is no longer known)"}}}},
		"after: released once the earlier job started": {
			in:   DependencyInput{Jobs: []*structs.Job{job(1, structs.JobStarting), waiting(2, false, "Dependency: waits for after:1", after(1))}},
			want: DependencyPlan{Released: []DependencyDecision{{JobID: "j2", Reason: "released: dependency after:1 holds"}}}},
		"a condition came to hold: the reason names what is left": {
			in: DependencyInput{Jobs: []*structs.Job{job(1, structs.JobRunning),
				waiting(3, false, "Dependency: waits for afterok:1, afterok:2", ok(1), ok(2))},
				Ended: map[uint64]*structs.Job{2: job(2, structs.JobCompleted)}},
			want: DependencyPlan{Waiting: []DependencyDecision{{JobID: "j3", Reason: "Dependency: waits for afterok:1"}}}},
		"a job a limit holds is not the dependency check's": {
			in: DependencyInput{Jobs: []*structs.Job{waiting(2, false, "held by limit L: 4 of 4 nodes", ok(1))},
				Ended: map[uint64]*structs.Job{1: job(1, structs.JobCompletedWithError)}}},
		"queue order: priority, then submit time": {
			in: DependencyInput{Jobs: []*structs.Job{
				waiting(4, false, "Dependency: waits for afterok:1", ok(1)),
				func() *structs.Job {
					j := waiting(3, false, "Dependency: waits for afterok:1", ok(1))
					j.Priority = structs.PriorityHigh
					return j
				}(),
				waiting(2, false, "Dependency: waits for afterok:1", ok(1))},
				Ended: map[uint64]*structs.Job{1: job(1, structs.JobCompleted)}},
			want: DependencyPlan{Released: []DependencyDecision{{JobID: "j3", Reason: "released: dependency afterok:1 holds"},
				{JobID: "j2", Reason: "released: dependency afterok:1 holds"}, {JobID: "j4", Reason: "released: dependency afterok:1 holds"}}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Dependencies(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if again := Dependencies(tc.in); !cmp.Equal(got, again) {
				t.Error("two passes over one input differ")
			}
		})
	}
	nums := DependencyNumbers([]*structs.Job{waiting(5, false, "Dependency: x", ok(3), ok(1)), waiting(6, true, "Dependency: y", ok(3)),
		waiting(7, false, "held by limit L: x", ok(9))})
	if diff := cmp.Diff([]uint64{1, 3}, nums); diff != "" {
		t.Errorf("DependencyNumbers (-want +got):\n%s", diff)
	}
}
