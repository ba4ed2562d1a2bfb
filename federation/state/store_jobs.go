package state

import (
	"fmt"
	"math"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Job returns the job with the given ID or ErrNotFound.
func (r *ReadTxn) Job(id string) (*structs.Job, error) {
	j, err := r.JobRef(id)
	if err != nil {
		return nil, err
	}
	return j.Copy(), nil
}

// JobByNumber returns the job with the given number or ErrNotFound.
func (r *ReadTxn) JobByNumber(number uint64) (*structs.Job, error) {
	if j := r.ar.live.jobByNumber(number); j != nil {
		return j.Copy(), nil
	}
	if j := r.ar.jobByNumber(number); j != nil {
		return j.Copy(), nil
	}
	return nil, notFound("job number", number)
}

// JobFilter selects jobs for ListJobs. Empty fields match everything.
type JobFilter struct {
	Tenant  string
	Owner   string
	Cluster string
	State   structs.JobState
	Active  bool   // only jobs in a non-terminal state
	After   uint64 // only jobs numbered above After (paging)
	Limit   int    // at most this many; 0 means no limit
	// Match, if set, is a further predicate a job must satisfy (e.g. an
	// access check). It must not modify the job.
	Match func(*structs.Job) bool
}

func (f *JobFilter) match(j *structs.Job) bool {
	return (f.Tenant == "" || j.Tenant == f.Tenant) &&
		(f.Owner == "" || j.Owner == f.Owner) &&
		(f.Cluster == "" || j.Cluster == f.Cluster) &&
		(f.State == "" || j.State == f.State) &&
		(!f.Active || !j.State.IsTerminal()) &&
		(f.Match == nil || f.Match(j))
}

// ListJobs returns jobs matching f in number order. When more remain past
// the limit, next is the number to pass as After for the next page; it is 0
// on the last page. It walks the most selective index the filter allows.
func (r *ReadTxn) ListJobs(f JobFilter) (jobs []*structs.Job, next uint64, err error) {
	if f.After == math.MaxUint64 {
		return nil, 0, nil
	}
	// The jobs in play (live.go) are kept by number, tenant, owner and,
	// while active on a cluster, by cluster: a filter on a state or on a
	// cluster without a state on it walks the owner, tenant or number
	// order and filters.
	var index, key string
	switch {
	case f.Owner != "":
		index, key = "owner", f.Owner
	case f.Cluster != "" && f.State.OnCluster():
		index, key = "cluster_active", f.Cluster
	case f.Tenant != "":
		index, key = "tenant", f.Tenant
	default:
		index = "number"
	}
	// The first Limit+1 matches of the jobs in play and of the finished
	// ones (the archive) hold the first Limit+1 of all.
	want := f.Limit + 1
	if f.Limit <= 0 {
		want = math.MaxInt
	}
	var live, done []*structs.Job
	r.ar.live.each(index, key, f.After+1, func(j *structs.Job) bool {
		if f.match(j) {
			live = append(live, j)
		}
		return len(live) < want
	})
	// A filter only jobs in play can match (Active, a state in play)
	// reads the jobs in play alone: what dispatch lists every pass costs the
	// jobs in play, never the finished ones the hub keeps.
	inPlay := f.Active || (f.State != "" && !f.State.IsTerminal())
	if !inPlay && (index == "number" || index == "tenant" || index == "owner") {
		r.ar.eachJob(index, key, f.After+1, func(j *structs.Job) bool {
			if f.match(j) {
				done = append(done, j)
			}
			return len(done) < want
		})
	}
	jobs, next = pageOf(mergeByNumber(live, done), f.Limit)
	return jobs, next, nil
}

// mergeByNumber merges two lists of jobs in number order.
func mergeByNumber(a, b []*structs.Job) []*structs.Job {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]*structs.Job, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].Number < b[0].Number {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// pageOf is the first limit (0: all) of found, in copies, and the After
// of the next page (0 if none is left).
func pageOf(found []*structs.Job, limit int) ([]*structs.Job, uint64) {
	var next uint64
	if limit > 0 && len(found) > limit {
		found = found[:limit]
		next = found[limit-1].Number
	}
	out := make([]*structs.Job, len(found))
	for i, j := range found {
		out[i] = j.Copy()
	}
	return out, next
}

// rawJob returns the stored job (not a copy) or ErrNotFound.
func (w *WriteTxn) rawJob(id string) (*structs.Job, error) {
	if j := w.storedJob(id); j != nil {
		return j, nil
	}
	return nil, notFound("job", id)
}

// SubmitJob stores a new job. The store assigns its number (the next of a
// sequence that never repeats) and name; State defaults to SUBMITTED and
// Priority to normal; placement and outcome fields are cleared. The tenant
// and machine type must exist and the ID must be new. It returns a copy of
// the stored job.
//
// IDs are unique among stored jobs, not forever: once PurgeJobs deleted a
// job, a new submission may use its ID again (like a Kubernetes name after
// deletion), and gets a new number. This is intended. Whatever must never
// be confused with an earlier job keys on the number, never on the ID: the
// Kubernetes objects of a job are named and labelled by it, and the job
// name includes it. Submitting is idempotent by ID only while the job is
// stored, so purge jobs long after they ended, when no retry of their
// submission or late report about them can still arrive.
func (w *WriteTxn) SubmitJob(j *structs.Job) (*structs.Job, error) {
	n, err := w.submitJob(j.Copy())
	if err != nil {
		return nil, err
	}
	return n.Copy(), nil
}

// SubmitOwnedJob is SubmitJob for a job the caller hands over (a command
// just decoded from the log): the store keeps j itself, not a copy, and
// returns it as stored, shared with the store: the caller must never
// change it (a copy of it may be changed: Job.Copy). The FSM hands it
// back to the replica's caller that waits for it, as a copy, and a
// follower, where no one waits, does not copy it at all.
func (w *WriteTxn) SubmitOwnedJob(j *structs.Job) (*structs.Job, error) {
	return w.submitJob(j)
}

// submitJob stores n, which the store owns from now on, even when it
// refuses it, and returns it as stored (shared with the store).
func (w *WriteTxn) submitJob(n *structs.Job) (*structs.Job, error) {
	j := n
	if err := j.ValidateSubmit(); err != nil {
		return nil, err
	}
	if w.storedJob(j.ID) != nil {
		return nil, structs.Errorf(structs.ErrConflict, "job %q exists", j.ID)
	}
	if err := w.mustExistCached(tTenants, "tenant", j.Tenant); err != nil {
		return nil, err
	}
	if err := w.mustExistCached(tMachineTypes, "machine type", j.MachineType); err != nil {
		return nil, err
	}
	n.Number = w.next(cJobs)
	n.Name = structs.JobName(n.Owner, n.SubmitTime, n.Number)
	if n.State == "" {
		n.State = structs.JobSubmitted
	}
	if n.Priority == "" {
		n.Priority = structs.PriorityNormal
	}
	n.Cluster, n.PreviousCluster, n.ExitCode, n.LogTail, n.ConnectURL = "", "", 0, "", ""
	n.AssignTime, n.StartTime, n.EndTime = time.Time{}, time.Time{}, time.Time{}
	if err := w.insert(tJobs, n, nil); err != nil {
		return nil, err
	}
	if err := w.jobChanged(n, "", n.SubmitTime); err != nil {
		return nil, err
	}
	return n, nil
}

// AssignJob places a SUBMITTED or QUEUED job on an existing cluster, if
// the job still meets the assignment's precondition (a.CAS).
func (w *WriteTxn) AssignJob(a *structs.JobAssignment) (*structs.Job, error) {
	if a.Time.IsZero() {
		return nil, structs.Errorf(structs.ErrInvalid, "assignment of job %q: no time", a.ID)
	}
	old, err := w.rawJob(a.ID)
	if err != nil {
		return nil, err
	}
	if err := checkCAS(a.CAS, old, "job", a.ID); err != nil {
		return nil, err
	}
	if !structs.CanTransition(old.State, structs.JobAssigned) {
		return nil, &structs.TransitionError{JobID: a.ID, From: old.State, To: structs.JobAssigned}
	}
	if err := w.mustExist(tClusters, "cluster", a.Cluster); err != nil {
		return nil, err
	}
	if a.MachineType != "" && a.MachineType != old.MachineType {
		if err := w.mustExist(tMachineTypes, "machine type", a.MachineType); err != nil {
			return nil, err
		}
	}
	n := *old // shallow: maps are replaced, never changed in place
	n.State, n.Substatus, n.Cluster, n.AssignTime = structs.JobAssigned, a.Reason, a.Cluster, a.Time
	n.AssignedMachineType, n.BurstRule = a.MachineType, a.BurstRule
	return w.putJob(&n, old, a.Time)
}

// UpdateJobState applies a progress report. The job must meet the
// update's guards: its number (u.Number), its cluster (u.Cluster, an
// agent's report) and its modify index (u.CAS, a dispatch decision).
// Moving to another state must be a legal transition (see
// structs.CanTransition) and may not be to ASSIGNED (use AssignJob);
// staying in a non-terminal state updates substatus and log tail.
// Re-queuing moves the cluster to PreviousCluster; RUNNING stamps the start
// time; terminal states stamp the end time and keep the exit code.
func (w *WriteTxn) UpdateJobState(u *structs.JobStateUpdate) (*structs.Job, error) {
	switch {
	case !u.State.Valid():
		return nil, structs.Errorf(structs.ErrInvalid, "update of job %q: state %q", u.ID, u.State)
	case u.Time.IsZero():
		return nil, structs.Errorf(structs.ErrInvalid, "update of job %q: no time", u.ID)
	}
	old, err := w.rawJob(u.ID)
	if err != nil {
		return nil, err
	}
	if u.Number != 0 && u.Number != old.Number {
		return nil, notFound("job", fmt.Sprintf("%s number %d", u.ID, u.Number))
	}
	if u.Cluster != "" && u.Cluster != old.Cluster {
		return nil, structs.Errorf(structs.ErrConflict, "job %q is not assigned to cluster %q", u.ID, u.Cluster)
	}
	if err := checkCAS(u.CAS, old, "job", u.ID); err != nil {
		return nil, err
	}
	same := u.State == old.State
	switch {
	case same && old.State.IsTerminal(), !same && !structs.CanTransition(old.State, u.State):
		return nil, &structs.TransitionError{JobID: u.ID, From: old.State, To: u.State}
	case !same && u.State == structs.JobAssigned:
		return nil, structs.Errorf(structs.ErrInvalid, "job %q: assign with an assignment, not a state update", u.ID)
	}
	n := *old
	n.State, n.Substatus = u.State, u.Substatus
	if u.LogTail != "" {
		n.LogTail = u.LogTail
	}
	if u.Array != nil && n.Array != nil {
		a := *n.Array // the slices are replaced, never changed in place
		a.Progress = u.Array.Copy()
		n.Array = &a
	}
	if len(u.Outputs) > 0 && n.Array != nil {
		n.Array = n.Array.WithOutputs(u.Outputs, u.Time)
	}
	switch {
	case u.State != structs.JobRunning:
		n.ConnectURL = "" // only a running job is reached
	case u.ConnectURL != "":
		n.ConnectURL = u.ConnectURL
	}
	if !same {
		switch {
		case u.State == structs.JobQueued:
			if old.Cluster != "" {
				n.PreviousCluster = old.Cluster
			}
			n.Cluster, n.AssignTime = "", time.Time{}
			n.AssignedMachineType, n.BurstRule = "", ""
		case u.State == structs.JobRunning:
			if n.StartTime.IsZero() {
				n.StartTime = u.Time
			}
		case u.State.IsTerminal():
			n.EndTime, n.ExitCode = u.Time, u.ExitCode
			if n.StartTime.IsZero() && (u.State == structs.JobCompleted || u.State == structs.JobCompletedWithError) {
				n.StartTime = u.Time
			}
		}
	}
	return w.putEnded(&n, old, u.Account, u.Time)
}

// CancelJob stops a job: CANCELED if it has not started, TERMINATED if it
// has. A terminal job cannot be canceled (TransitionError). The cluster is
// kept so its agent sees the change and cleans up.
func (w *WriteTxn) CancelJob(c *structs.JobCancel) (*structs.Job, error) {
	if c.Time.IsZero() {
		return nil, structs.Errorf(structs.ErrInvalid, "cancel of job %q: no time", c.ID)
	}
	old, err := w.rawJob(c.ID)
	if err != nil {
		return nil, err
	}
	to := structs.JobCanceled
	if old.State.Started() {
		to = structs.JobTerminated
	}
	if !structs.CanTransition(old.State, to) {
		return nil, &structs.TransitionError{JobID: c.ID, From: old.State, To: to}
	}
	n := *old
	n.State, n.Substatus, n.EndTime, n.ConnectURL = to, c.Reason, c.Time, ""
	return w.putEnded(&n, old, c.Account, c.Time)
}

// CancelTasks adds tasks to an array job's canceled ones (a job not yet
// ended). Canceling tasks already canceled changes nothing.
func (w *WriteTxn) CancelTasks(c *structs.JobCancelTasks) (*structs.Job, error) {
	if c.Time.IsZero() {
		return nil, structs.Errorf(structs.ErrInvalid, "task cancel of job %q: no time", c.ID)
	}
	old, err := w.rawJob(c.ID)
	if err != nil {
		return nil, err
	}
	if old.Array == nil {
		return nil, structs.Errorf(structs.ErrInvalid, "job %q is not an array job: it has no tasks", c.ID)
	}
	if old.State.IsTerminal() {
		return nil, structs.Errorf(structs.ErrInvalid, "job %q has ended (%s): its tasks cannot be canceled", c.ID, old.State)
	}
	merged, err := structs.MergeTaskRanges(old.Array.Spec, old.Array.CancelTasks, c.Tasks)
	if err != nil {
		return nil, err
	}
	if merged == old.Array.CancelTasks {
		return old.Copy(), nil
	}
	n := *old
	n.Array = old.Array.Copy()
	n.Array.CancelTasks = merged
	return w.putJob(&n, old, c.Time)
}

// RequestTaskOutput records a request for a task's output on a running
// array job (see structs.ArrayJob.WithOutputRequest).
func (w *WriteTxn) RequestTaskOutput(c *structs.JobOutputRequest) (*structs.Job, error) {
	if c.Time.IsZero() {
		return nil, structs.Errorf(structs.ErrInvalid, "output request of job %q: no time", c.ID)
	}
	old, err := w.rawJob(c.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case old.Array == nil:
		return nil, structs.Errorf(structs.ErrInvalid, "job %q is not an array job: it has no tasks", c.ID)
	case !old.Array.Spec.Contains(c.Index):
		return nil, structs.Errorf(structs.ErrNotFound, "task %d is not in the array %s of job %q", c.Index, old.Array.Spec.String(), c.ID)
	case old.State != structs.JobRunning:
		return nil, structs.Errorf(structs.ErrConflict, "job %q is %s: only a running array's head answers for its tasks", c.ID, old.State)
	}
	n := *old
	n.Array = old.Array.WithOutputRequest(c.Index, c.Time)
	return w.putJob(&n, old, c.Time)
}

// putEnded stores n and, when account is set and n has just ended, its
// accounting record in the same transaction.
func (w *WriteTxn) putEnded(n, old *structs.Job, account bool, at time.Time) (*structs.Job, error) {
	if account && n.State.IsTerminal() && !old.State.IsTerminal() {
		if err := w.account(n, true); err != nil {
			return nil, err
		}
	}
	return w.putJob(n, old, at)
}

// putJob stores n over old and records the state change, if any, at
// time at (see jobChanged).
func (w *WriteTxn) putJob(n, old *structs.Job, at time.Time) (*structs.Job, error) {
	if err := w.insert(tJobs, n, old); err != nil {
		return nil, err
	}
	if n.State != old.State {
		if err := w.jobChanged(n, old.State, at); err != nil {
			return nil, err
		}
	}
	return n.Copy(), nil
}
