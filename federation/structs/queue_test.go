package structs

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCompareQueue(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	jobs := []*Job{
		{ID: "n-late", SubmitTime: t0.Add(time.Minute), Number: 1},
		{ID: "n-early-2", SubmitTime: t0, Number: 2},
		{ID: "n-early-1", SubmitTime: t0, Number: 1, Priority: PriorityNormal},
		{ID: "high", SubmitTime: t0.Add(time.Hour), Priority: PriorityHigh},
		{ID: "highest", SubmitTime: t0.Add(2 * time.Hour), Priority: PriorityHighest},
		{ID: "b-tie", SubmitTime: t0, Number: 2},
	}
	slices.SortFunc(jobs, CompareQueue)
	var got []string
	for _, j := range jobs {
		got = append(got, j.ID)
	}
	want := []string{"highest", "high", "n-early-1", "b-tie", "n-early-2", "n-late"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("queue order (-want +got):\n%s", diff)
	}
}

func TestEffectiveMachineType(t *testing.T) {
	j := &Job{MachineType: "n3"}
	if j.EffectiveMachineType() != "n3" {
		t.Errorf("home: %q", j.EffectiveMachineType())
	}
	j.AssignedMachineType = "g3"
	if j.EffectiveMachineType() != "g3" {
		t.Errorf("burst: %q", j.EffectiveMachineType())
	}
}
