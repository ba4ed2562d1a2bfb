package structs

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// JobState is where a job is in its life.
type JobState string

// Job states. A job starts SUBMITTED (or HELD/QUEUED when admission decided
// before logging it) and ends in one of the four terminal states.
const (
	JobSubmitted          JobState = "SUBMITTED"
	JobHeld               JobState = "HELD"     // over a limit; released to QUEUED
	JobQueued             JobState = "QUEUED"   // admitted, waiting for placement
	JobAssigned           JobState = "ASSIGNED" // placed on a cluster
	JobStarting           JobState = "STARTING" // pods bound, runtime starting
	JobRunning            JobState = "RUNNING"
	JobCompleted          JobState = "COMPLETED"
	JobCompletedWithError JobState = "COMPLETED_WITH_ERROR"
	JobCanceled           JobState = "CANCELED"   // stopped before it started
	JobTerminated         JobState = "TERMINATED" // stopped after it started
)

// Valid reports whether s is a known state.
func (s JobState) Valid() bool {
	switch s {
	case JobSubmitted, JobHeld, JobQueued, JobAssigned, JobStarting, JobRunning,
		JobCompleted, JobCompletedWithError, JobCanceled, JobTerminated:
		return true
	}
	return false
}

// IsTerminal reports whether s is final: no transition leaves it.
func (s JobState) IsTerminal() bool {
	switch s {
	case JobCompleted, JobCompletedWithError, JobCanceled, JobTerminated:
		return true
	}
	return false
}

// OnCluster reports whether a job in state s is placed on a cluster and
// has not ended: ASSIGNED, STARTING or RUNNING, what an agent runs.
func (s JobState) OnCluster() bool {
	return s == JobAssigned || s == JobStarting || s == JobRunning
}

// Started reports whether pods of a job in state s may exist and run.
func (s JobState) Started() bool { return s == JobStarting || s == JobRunning }

// CanTransition reports whether a job may move from one state to another.
// Staying in the same state is not a transition. Nothing leaves a terminal
// state; only ASSIGNED may return to QUEUED (re-placement before any pod
// started), and a job that started never goes back, so a failing solver
// ends its job once.
func CanTransition(from, to JobState) bool {
	switch from {
	case JobSubmitted:
		return to == JobHeld || to == JobQueued || to == JobAssigned || to == JobCanceled
	case JobHeld:
		return to == JobQueued || to == JobCanceled
	case JobQueued:
		return to == JobHeld || to == JobAssigned || to == JobCanceled
	case JobAssigned:
		switch to {
		case JobQueued, JobStarting, JobRunning, JobCompleted, JobCompletedWithError,
			JobCanceled, JobTerminated:
			return true
		}
	case JobStarting:
		switch to {
		case JobRunning, JobCompleted, JobCompletedWithError, JobTerminated:
			return true
		}
	case JobRunning:
		return to == JobCompleted || to == JobCompletedWithError || to == JobTerminated
	}
	return false
}

// PriorityClass orders queued jobs.
type PriorityClass string

// Priority classes.
const (
	PriorityNormal  PriorityClass = "normal"
	PriorityHigh    PriorityClass = "high"
	PriorityHighest PriorityClass = "highest"
)

// Valid reports whether p is a known class.
func (p PriorityClass) Valid() bool {
	return p == PriorityNormal || p == PriorityHigh || p == PriorityHighest
}

// Job is one run of an app command on nodes of one machine type.
type Job struct {
	RaftIndex
	ID      string `json:"id"`     // stamped by the submitter, unique forever
	Number  uint64 `json:"number"` // assigned by the FSM, 1, 2, 3...
	Name    string `json:"name"`   // derived: owner-date-number
	Label   string `json:"label,omitempty"`
	Project string `json:"project,omitempty"`

	Tenant      string            `json:"tenant"`
	Team        string            `json:"team,omitempty"`
	Owner       string            `json:"owner"` // username
	App         string            `json:"app"`
	Command     string            `json:"command,omitempty"` // key of the AppDef command
	Parameters  map[string]string `json:"parameters,omitempty"`
	MachineType string            `json:"machine_type"`
	Nodes       int               `json:"nodes"`
	Vault       string            `json:"vault,omitempty"`
	Walltime    Duration          `json:"walltime,omitempty"` // zero means none
	Priority    PriorityClass     `json:"priority,omitempty"`
	// Array, when set, makes the job an array job: its tasks run inside
	// the job's allocation (see docs/array-jobs.md) and Array.Progress
	// counts them.
	Array *ArrayJob `json:"array,omitempty"`
	// Identity is the owner's uid/gid, stamped at submit from the user
	// record, so the agent runs the job's processes as that user.
	Identity *Identity `json:"identity,omitempty"`

	State     JobState `json:"state"`
	Substatus string   `json:"substatus,omitempty"`
	ExitCode  int      `json:"exit_code,omitempty"`
	Cluster   string   `json:"cluster,omitempty"` // set while assigned and after
	// PreviousCluster is the cluster the job was assigned to before it
	// last went back to the queue (an assignment not taken up in time):
	// that cluster's agent keeps seeing the job's changes in its watch, so
	// it learns the job left even when it was placed elsewhere at once.
	PreviousCluster string `json:"previous_cluster,omitempty"`
	// AssignedMachineType is the machine type the job runs on when a burst
	// rule placed it on another than MachineType; empty otherwise.
	AssignedMachineType string `json:"assigned_machine_type,omitempty"`
	// BurstRule names the burst rule that placed the job, if one did.
	BurstRule string `json:"burst_rule,omitempty"`

	SubmitTime time.Time `json:"submit_time,omitzero"`
	AssignTime time.Time `json:"assign_time,omitzero"`
	StartTime  time.Time `json:"start_time,omitzero"`
	EndTime    time.Time `json:"end_time,omitzero"`

	LogTail string `json:"log_tail,omitempty"` // last lines of the head's output

	// CallbackURL is called on the job's state changes (signed; see
	// docs/services.md). It passed the administrators' allow-list at submit.
	CallbackURL string `json:"callback_url,omitempty"`
	// Trigger names the trigger that submitted the job, if one did.
	Trigger string `json:"trigger,omitempty"`
	// ConnectURL is where a running interactive job is reached: the
	// token-guarded address its cluster's agent reported (the job's
	// Ingress host and the guard's token). It is cleared when the job
	// leaves RUNNING.
	ConnectURL string `json:"connect_url,omitempty"`
	// RequestID is the X-Request-Id of the call that submitted the job
	// (the caller's, or the one the hub gave it): the hub and the agent
	// log it as request_id on the job's lines, so one id leads from the
	// call to what it caused on the cluster.
	RequestID string `json:"request_id,omitempty"`
	// PullSecret is the job's own pull credential (docker config JSON,
	// JobSubmitRequest.PullSecret), "" without one. The API never shows
	// it (Redacted).
	PullSecret string `json:"pull_secret,omitempty"`
	// Dependency, when set, is what the job waited for (or waits for, in
	// HELD with a DependencyReason substatus) before it was queued.
	Dependency *JobDependency `json:"dependency,omitempty"`
	// Env are variables set in the job's processes on every node
	// (JobSubmitRequest.Env). Never logged.
	Env map[string]string `json:"env,omitempty"`
	// Workdir is the directory the job's command starts in on every node
	// ("" the image's).
	Workdir string `json:"workdir,omitempty"`
	// Signals are the last signal requests sent to the running job
	// (raft command JobSignal, at most MaxJobSignals, oldest first); a
	// submission never carries any.
	Signals []JobSignal `json:"signals,omitempty"`
	// Shares are the share links of a running interactive job (raft
	// command JobShares, at most MaxJobShares): their token hashes, never
	// the tokens. An expired link stays until the API next writes the
	// job's links, which drops it first; no reply shows it from its
	// expiry on (Redacted). A submission never carries any.
	Shares []JobShare `json:"shares,omitempty"`
}

// HasSubmitExtensions reports whether j carries a field an older
// replica's job codec cannot decode (Dependency, Env, Workdir): such a
// job is stored by fsm.JobSubmitExt, which only a hub whose every replica
// applies it writes.
func (j *Job) HasSubmitExtensions() bool {
	return j.Dependency != nil || len(j.Env) > 0 || j.Workdir != ""
}

// HasArrayList reports whether j is an array job whose spec is an index
// list ("1,3,7-9"), which replicas and agents from before lists cannot
// decode: such a job is stored by fsm.JobSubmitArrayList, which only a
// hub whose every replica applies it writes.
func (j *Job) HasArrayList() bool { return j.Array != nil && j.Array.Spec.IsList() }

// Redacted is j as the API shows it at now: without its pull credential,
// its share links' token hashes (only its agent gets those) and the links
// expired at now, which the job may still hold (Shares). now matters only
// for a job with share links.
func (j *Job) Redacted(now time.Time) *Job {
	if j == nil || (j.PullSecret == "" && len(j.Shares) == 0) {
		return j
	}
	c := j.Copy()
	c.PullSecret = ""
	c.Shares = slices.DeleteFunc(c.Shares, func(s JobShare) bool { return !s.Live(now) })
	for i := range c.Shares {
		c.Shares[i].TokenHash = ""
	}
	if len(c.Shares) == 0 {
		c.Shares = nil
	}
	return c
}

// Copy returns a deep copy of j.
func (j *Job) Copy() *Job {
	if j == nil {
		return nil
	}
	c := *j
	c.Parameters = maps.Clone(j.Parameters)
	c.Array = j.Array.Copy()
	c.Dependency = j.Dependency.Copy()
	c.Env = maps.Clone(j.Env)
	c.Signals = slices.Clone(j.Signals)
	c.Shares = slices.Clone(j.Shares)
	if j.Identity != nil {
		id := *j.Identity
		c.Identity = &id
	}
	return &c
}

// MaxJobNodes bounds Job.Nodes.
const MaxJobNodes = 100_000

// ValidateSubmit checks a job as submitted: the fields a submitter must set
// and an initial state of "", SUBMITTED, HELD or QUEUED.
func (j *Job) ValidateSubmit() error {
	if err := validName("job id", j.ID); err != nil {
		return err
	}
	for _, f := range [...]struct{ what, v string }{{"job tenant", j.Tenant}, {"job owner", j.Owner}} {
		if err := validName(f.what, f.v); err != nil {
			return err
		}
	}
	if err := checkSubmission(j.ID, j.App, j.MachineType, j.Nodes, j.Walltime, j.Priority); err != nil {
		return err
	}
	if a := j.Array; a != nil {
		if err := checkArray(&a.Spec, a.TaskRetries, a.TaskWalltime); err != nil {
			return err
		}
	}
	if err := checkEnvWorkdir(j.Env, j.Workdir); err != nil {
		return err
	}
	if d := j.Dependency; d != nil && (len(d.Conditions) == 0 || len(d.Conditions) > MaxDependencies) {
		return invalidf("job %q: dependency with %d conditions", j.ID, len(d.Conditions))
	}
	if len(j.Signals) > 0 {
		return invalidf("job %q: a submission carries no signal requests", j.ID)
	}
	if len(j.Shares) > 0 {
		return invalidf("job %q: a submission carries no share links", j.ID)
	}
	if j.SubmitTime.IsZero() {
		return invalidf("job %q: no submit time", j.ID)
	}
	switch j.State {
	case "", JobSubmitted, JobHeld, JobQueued:
		return nil
	}
	return invalidf("job %q: initial state %q", j.ID, j.State)
}

// Validate checks a submission's own fields. It is the one check of them:
// the CLI runs it before sending, job admission (federation/jobs) on the
// hub, and Job.ValidateSubmit shares it. ID may be empty (the hub stamps
// one); what the submission names is checked against the catalog at
// admission.
func (r *JobSubmitRequest) Validate() error {
	if r.ID != "" {
		if err := validName("job id", r.ID); err != nil {
			return err
		}
	}
	app, err := r.checkScript()
	if err != nil {
		return err
	}
	if err := checkSubmission("", app, r.MachineType, r.Nodes, r.Walltime, r.Priority); err != nil {
		return err
	}
	if r.PullSecret != "" {
		if _, err := PullSecretRegistries("pull_secret", r.PullSecret); err != nil {
			return err
		}
	}
	if err := checkEnvWorkdir(r.Env, r.Workdir); err != nil {
		return err
	}
	if r.Dependency != "" {
		if _, _, err := ParseDependency(r.Dependency); err != nil {
			return err
		}
	}
	if err := r.CheckTaskCPUBind(); err != nil {
		return err
	}
	if err := r.checkSignalAt(); err != nil {
		return err
	}
	if r.Array == nil {
		switch {
		case r.TaskRetries != 0:
			return &FieldError{Object: "job", Field: "task_retries", Msg: "needs an array"}
		case r.TaskWalltime != 0:
			return &FieldError{Object: "job", Field: "task_walltime", Msg: "needs an array"}
		}
		return nil
	}
	return checkArray(r.Array, r.TaskRetries, r.TaskWalltime)
}

// checkArray checks an array job's own fields.
func checkArray(a *ArraySpec, retries int, walltime Duration) error {
	if err := a.Validate(); err != nil {
		return err
	}
	switch {
	case retries < 0 || retries > MaxTaskRetries:
		return &FieldError{Object: "job", Field: "task_retries", Msg: fmt.Sprintf("%d out of 0..%d", retries, MaxTaskRetries)}
	case walltime < 0:
		return &FieldError{Object: "job", Field: "task_walltime", Msg: "is negative"}
	}
	return nil
}

// checkSubmission checks the fields a submission sets; errors name the
// job by id ("" for a request without one). A wrong field is a
// *FieldError.
func checkSubmission(id, app, machineType string, nodes int, walltime Duration, priority PriorityClass) error {
	// what names the submission in a refusal; it is built only then (this
	// check runs on every replica for every submission).
	what := func() string {
		if id == "" {
			return "job"
		}
		return "job " + strconv.Quote(id)
	}
	bad := func(field, format string, args ...any) error {
		return &FieldError{Object: what(), Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case app == "":
		return bad("app", "is required")
	case machineType == "":
		return bad("machine_type", "is required")
	case nodes < 1 || nodes > MaxJobNodes:
		return bad("nodes", "%d out of 1..%d", nodes, MaxJobNodes)
	case walltime < 0:
		return bad("walltime", "is negative")
	case priority != "" && !priority.Valid():
		return bad("priority", "%q: want normal, high or highest", priority)
	}
	if validName("", app) != nil {
		return validName(what()+" app", app)
	}
	if validName("", machineType) != nil {
		return validName(what()+" machine type", machineType)
	}
	return nil
}

// NewJobID makes a job ID: "j-" and 26 base-32 characters (a counter of
// the process, then random ones: see newID), usable in Kubernetes object
// names. The submitter stamps it — the Go client before its first
// attempt, the hub for a request that has none — so that a retried
// submission finds the job it made.
func NewJobID() string { return newID("j-") }

// JobName derives a job's display name from its owner, submit time (UTC date)
// and number, e.g. "alice-2026-11-28-0042".
func JobName(owner string, submitted time.Time, number uint64) string {
	b := make([]byte, 0, len(owner)+20)
	b = append(b, owner...)
	b = append(b, '-')
	b = submitted.UTC().AppendFormat(b, "2006-01-02")
	b = append(b, '-')
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], number, 10)
	for i := len(d); i < 4; i++ {
		b = append(b, '0')
	}
	return string(append(b, d...))
}
