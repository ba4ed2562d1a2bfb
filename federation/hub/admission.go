package hub

import (
	"context"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Admission decides, before a job is logged, the state it starts in: the
// hook where policy (limits → HELD, access checks) plugs in. The hub calls
// Admit on the replica that received the submission, with a consistent
// view of that replica's state, after checking the job against the
// catalog (machine type, app, scale) and before stamping it into the raft
// log. An error rejects the submission and is returned to the submitter
// (use structs kinds: ErrForbidden, ErrInvalid...). Admit must not modify
// job and must be safe for concurrent use.
type Admission interface {
	Admit(ctx context.Context, view *state.ReadTxn, job *structs.Job) (Decision, error)
}

// Decision is an Admission's verdict.
type Decision struct {
	// State is SUBMITTED, HELD or QUEUED.
	State structs.JobState
	// Substatus explains the state to the user, e.g. which limit holds the job.
	Substatus string
}

// QueueAll is the default Admission: every job starts QUEUED.
type QueueAll struct{}

// Admit implements Admission.
func (QueueAll) Admit(context.Context, *state.ReadTxn, *structs.Job) (Decision, error) {
	return Decision{State: structs.JobQueued}, nil
}

// AdmissionFunc adapts a function to Admission.
type AdmissionFunc func(ctx context.Context, view *state.ReadTxn, job *structs.Job) (Decision, error)

// Admit implements Admission.
func (f AdmissionFunc) Admit(ctx context.Context, view *state.ReadTxn, job *structs.Job) (Decision, error) {
	return f(ctx, view, job)
}
