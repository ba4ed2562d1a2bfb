package jobs

import (
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
