package fsm

import (
	"time"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// JobSubmit stores a new job; the FSM assigns its number and name. Result:
// *structs.Job.
type JobSubmit struct {
	Job structs.Job `json:"job"`
}

func (c *JobSubmit) apply(w *state.WriteTxn) (any, error) {
	// A command is decoded for one apply: the store keeps its job (no
	// copy of it), and hands it back shared (shared.go).
	return sharedJob(w.SubmitOwnedJob(&c.Job))
}

// JobSubmitExt stores a new job as JobSubmit does, for a job with the
// fields added for Slurm's sbatch forms (structs.Job.HasSubmitExtensions:
// Dependency, Env, Workdir). It has its own type so that no replica on an
// older binary, whose codec refuses those fields, ever meets such a job:
// it is gated (see known.go), and JobSubmit refuses them. Its body is
// JobSubmit's binary form. Result: *structs.Job.
type JobSubmitExt JobSubmit

func (c *JobSubmitExt) apply(w *state.WriteTxn) (any, error) {
	return sharedJob(w.SubmitOwnedJob(&c.Job))
}

// JobSubmitArrayList stores a new job as JobSubmit does, for an array
// job whose spec is an index list (structs.ArraySpec.IsList: "1,3,7-9");
// it carries JobSubmitExt's fields too. Replicas on binaries from before
// lists refuse such a spec (their array codec refuses the unknown
// "ranges" field), JobSubmitExt among them: it has its own type, gated
// (see known.go), and JobSubmit and JobSubmitExt refuse a list. Its body
// is JobSubmit's binary form. Result: *structs.Job.
type JobSubmitArrayList JobSubmit

func (c *JobSubmitArrayList) apply(w *state.WriteTxn) (any, error) {
	return sharedJob(w.SubmitOwnedJob(&c.Job))
}

// SubmitCommand is the command that stores job j: JobSubmitArrayList
// when its array is an index list, JobSubmitExt when it has fields only
// that command carries, else JobSubmit.
func SubmitCommand(j *structs.Job) Command {
	if j.HasArrayList() {
		return &JobSubmitArrayList{Job: *j}
	}
	if j.HasSubmitExtensions() {
		return &JobSubmitExt{Job: *j}
	}
	return &JobSubmit{Job: *j}
}

// JobStateUpdate reports job progress. Result: *structs.Job, or a
// *structs.TransitionError for an illegal transition. Its guards (Number,
// Cluster, CAS) make a stale report or a stale dispatch decision fail
// without changing anything.
type JobStateUpdate structs.JobStateUpdate

func (c *JobStateUpdate) apply(w *state.WriteTxn) (any, error) {
	return w.UpdateJobState((*structs.JobStateUpdate)(c))
}

// JobAssignment places a job on a cluster, if the job still meets its
// CAS. Result: *structs.Job.
type JobAssignment structs.JobAssignment

func (c *JobAssignment) apply(w *state.WriteTxn) (any, error) {
	return w.AssignJob((*structs.JobAssignment)(c))
}

// JobCancel cancels or terminates a job. Result: *structs.Job.
type JobCancel structs.JobCancel

func (c *JobCancel) apply(w *state.WriteTxn) (any, error) {
	return w.CancelJob((*structs.JobCancel)(c))
}

// JobCancelTasks cancels tasks of an array job. Result: *structs.Job.
type JobCancelTasks structs.JobCancelTasks

func (c *JobCancelTasks) apply(w *state.WriteTxn) (any, error) {
	return w.CancelTasks((*structs.JobCancelTasks)(c))
}

// JobOutputRequest records a request for a task's output on a running
// array job. Result: *structs.Job.
type JobOutputRequest structs.JobOutputRequest

func (c *JobOutputRequest) apply(w *state.WriteTxn) (any, error) {
	return w.RequestTaskOutput((*structs.JobOutputRequest)(c))
}

// JobPurge deletes terminal jobs and keeps an accounting record of each
// (see state.WriteTxn.PurgeEnded): those listed in IDs, or, with
// EndedBefore set (the leader's retention, which stamps it from its
// clock), the ones that ended before it, oldest first, at most Limit.
// Result: the number deleted (int); fewer than Limit means none is left.
//
// Account makes the records of jobs not accounted at their end complete
// (see state.WriteTxn.PurgeJobs); entries logged before it existed write
// the fields hubs always wrote.
type JobPurge struct {
	IDs         []string  `json:"ids,omitempty"`
	EndedBefore time.Time `json:"ended_before,omitzero"`
	Limit       int       `json:"limit,omitempty"`
	Account     bool      `json:"account,omitempty"`
}

func (c *JobPurge) apply(w *state.WriteTxn) (any, error) {
	if c.EndedBefore.IsZero() {
		return w.PurgeJobs(c.IDs, c.Account)
	}
	if len(c.IDs) > 0 {
		return nil, structs.Errorf(structs.ErrInvalid, "purge: IDs and a cutoff exclude each other")
	}
	return w.PurgeEnded(c.EndedBefore, c.Limit, c.Account)
}

// AccountingAppend stores an accounting record. Result:
// *structs.AccountingRecord with its Seq.
type AccountingAppend struct {
	Record structs.AccountingRecord `json:"record"`
}

func (c *AccountingAppend) apply(w *state.WriteTxn) (any, error) {
	return w.AppendAccounting(&c.Record)
}

// AuditAppend stores an audit event. Result: *structs.AuditEvent with its Seq.
type AuditAppend struct {
	Event structs.AuditEvent `json:"event"`
}

func (c *AuditAppend) apply(w *state.WriteTxn) (any, error) { return w.AppendAudit(&c.Event) }

// AuditPurge deletes the audit events older than Before (stamped by the
// leader's retention from its clock), oldest first, at most Limit.
// Result: the number deleted (int); fewer than Limit means none is left.
type AuditPurge struct {
	Before time.Time `json:"before"`
	Limit  int       `json:"limit"`
}

func (c *AuditPurge) apply(w *state.WriteTxn) (any, error) { return w.PurgeAudit(c.Before, c.Limit) }
