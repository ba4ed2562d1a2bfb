package jobs

import (
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Cancel decides whether caller may stop job j at now and returns the
// command that does: it cancels a job that has not started and
// terminates one that has (the state machine tells which). reason, when
// empty, becomes "<verb> by <caller>", e.g. "canceled by alice".
func Cancel(caller *authz.Identity, j *structs.Job, verb, reason string, now time.Time) (*fsm.JobCancel, error) {
	if err := caller.CheckControlJob(j); err != nil {
		return nil, err
	}
	if reason == "" {
		reason = verb + " by " + caller.Subject()
	}
	return &fsm.JobCancel{ID: j.ID, Reason: reason, Time: now.UTC(), Account: true}, nil
}

// CancelTasks decides whether caller may cancel tasks of array job j
// at now (indices as --array takes them, without %MAX: "17,42,100-200:2",
// structs.ParseTaskList) and returns the command that does, with the
// indices as plain ranges. The job must be an array that has not ended,
// and every index one of its tasks (else an ErrInvalid naming those that
// are not).
func CancelTasks(caller *authz.Identity, j *structs.Job, tasks string, now time.Time) (*fsm.JobCancelTasks, error) {
	if err := caller.CheckControlJob(j); err != nil {
		return nil, err
	}
	if j.Array == nil {
		return nil, structs.Errorf(structs.ErrInvalid, "job %q is not an array job: it has no tasks", j.ID)
	}
	if j.State.IsTerminal() {
		return nil, structs.Errorf(structs.ErrInvalid, "job %q has ended (%s): its tasks cannot be canceled", j.ID, j.State)
	}
	if strings.TrimSpace(tasks) == "" {
		return nil, structs.Errorf(structs.ErrInvalid, "no tasks to cancel (want indices as --array takes them, such as 17,42,100-200:2)")
	}
	sel, err := structs.ParseTaskList(strings.ReplaceAll(tasks, " ", ""))
	if err != nil {
		return nil, err
	}
	if err := structs.NotInArray(structs.ErrInvalid, j, sel); err != nil {
		return nil, err
	}
	// The command carries plain ranges, as every replica reads them.
	norm, err := structs.MergeTaskRanges(j.Array.Spec, structs.FormatTasks(sel), "")
	if err != nil {
		return nil, err
	}
	return &fsm.JobCancelTasks{ID: j.ID, Tasks: norm, Time: now.UTC()}, nil
}
