package state

import (
	"fmt"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// MaxPurgeBatch bounds the jobs one purge deletes.
const MaxPurgeBatch = 10_000

// PurgeJobs deletes terminal jobs by ID, skipping IDs not present. If any
// listed job is not terminal nothing is deleted (ErrConflict). It returns
// how many jobs it deleted and keeps an accounting record of each (see
// PurgeEnded). Their IDs become free for new submissions; their numbers
// are never handed out again (see SubmitJob).
//
// full writes a missing record with every field (see accountingOf); off,
// as in entries an older hub logged, it writes the fields it always did.
func (w *WriteTxn) PurgeJobs(ids []string, full bool) (int, error) {
	if len(ids) > MaxPurgeBatch {
		return 0, structs.Errorf(structs.ErrInvalid, "purge of %d jobs: at most %d at once", len(ids), MaxPurgeBatch)
	}
	olds := make([]*structs.Job, 0, len(ids))
	listed := make(map[string]bool, len(ids))
	for _, id := range ids {
		j := w.storedJob(id)
		if j == nil || listed[id] {
			continue
		}
		listed[id] = true
		if !j.State.IsTerminal() {
			return 0, structs.Errorf(structs.ErrConflict, "job %q is %s, not terminal", id, j.State)
		}
		olds = append(olds, j)
	}
	return w.purge(olds, full)
}

// PurgeEnded deletes the terminal jobs that ended before cutoff, oldest
// end first, at most limit (1..MaxPurgeBatch) of them, and returns how
// many it deleted: fewer than limit means none is left. The cutoff is
// stamped by the writer, so the choice depends only on the state.
//
// Each deleted job leaves an accounting record (ID "job-<number>", its
// owner, app, machine type, cluster, size, final state, start and end,
// and the cost at the machine type's price), written in the same
// transaction, so no job leaves the hub without one. A record that
// already exists under that ID (the job was accounted when it ended) is
// kept as it is. full: as for PurgeJobs.
func (w *WriteTxn) PurgeEnded(cutoff time.Time, limit int, full bool) (int, error) {
	switch {
	case cutoff.IsZero():
		return 0, structs.Errorf(structs.ErrInvalid, "purge: no cutoff time")
	case limit < 1 || limit > MaxPurgeBatch:
		return 0, structs.Errorf(structs.ErrInvalid, "purge: limit %d out of 1..%d", limit, MaxPurgeBatch)
	}
	before := unixNanos(cutoff)
	var olds []*structs.Job
	w.ar.ended.Ascend(func(j *structs.Job) bool {
		if unixNanos(j.EndTime) >= before {
			return false
		}
		olds = append(olds, j)
		return len(olds) < limit
	})
	return w.purge(olds, full)
}

// purge deletes jobs read from this transaction, each with its
// accounting record.
func (w *WriteTxn) purge(olds []*structs.Job, full bool) (int, error) {
	for _, j := range olds {
		if err := w.account(j, full); err != nil {
			return 0, err
		}
		w.deleteJob(j)
	}
	return len(olds), nil
}

// account stores the accounting record of job j, which has ended, unless
// one exists under its ID ("job-<number>"): accounting a job twice (a
// replayed entry, a purge after the end was accounted) keeps the first.
func (w *WriteTxn) account(j *structs.Job, full bool) error {
	rec := w.accountingOf(j, full)
	if err := rec.Validate(); err != nil {
		return err
	}
	if w.ar.rec(rec.ID) != nil {
		return nil
	}
	rec.Seq = w.next(cAccounting)
	return w.insert(tAccounting, rec, nil)
}

// accountingOf is the bill of a finished job, priced at its machine type
// as stored now (a deleted machine type leaves size and price at zero):
// the price at the time is copied into the record. full adds what the
// first records lacked (project, command, queue time, exit code, burst
// rule, hours); without it the record is what hubs always wrote, so that
// old log entries apply to the same state.
func (w *WriteTxn) accountingOf(j *structs.Job, full bool) *structs.AccountingRecord {
	rec := &structs.AccountingRecord{
		ID: fmt.Sprintf("job-%d", j.Number), JobID: j.ID, JobNumber: j.Number, JobName: j.Name,
		Tenant: j.Tenant, Team: j.Team, User: j.Owner, App: j.App, MachineType: j.EffectiveMachineType(),
		Cluster: j.Cluster, Nodes: j.Nodes, State: j.State, Start: j.StartTime, End: j.EndTime,
	}
	if rec.End.Before(rec.Start) {
		rec.End = rec.Start
	}
	if raw, _ := rawByID(w.txn, TableMachineTypes, rec.MachineType); raw != nil {
		mt := raw.(*structs.MachineType)
		rec.Cores, rec.GPUs, rec.Price = mt.Cores*j.Nodes, mt.GPUs*j.Nodes, mt.Price
		if !rec.Start.IsZero() {
			// Products only (no sum), so no fused multiply-add can make
			// replicas on different CPUs disagree in the last bit.
			rec.Cost = mt.Price * float64(j.Nodes) * rec.End.Sub(rec.Start).Hours()
		}
	}
	if full {
		rec.Project, rec.Command, rec.Submit, rec.ExitCode, rec.BurstRule = j.Project, j.Command, j.SubmitTime, j.ExitCode, j.BurstRule
		u := structs.UsageOf(rec.Nodes, rec.Cores, rec.GPUs, rec.Start, rec.End, rec.Price)
		rec.NodeHours, rec.CoreHours, rec.GPUHours = u.NodeHours, u.CoreHours, u.GPUHours
		if j.Array != nil && j.Array.Progress != nil {
			p := j.Array.Progress
			rec.Tasks, rec.TaskNodeHours, rec.TaskSlotHours = p.Total, p.NodeSeconds/3600, p.SlotSeconds/3600
		}
	}
	return rec
}

// EndedBefore reports whether a terminal job ended before cutoff: whether
// a purge with that cutoff would delete anything.
func (r *ReadTxn) EndedBefore(cutoff time.Time) bool {
	j, ok := r.ar.ended.Min()
	return ok && unixNanos(j.EndTime) < unixNanos(cutoff)
}
