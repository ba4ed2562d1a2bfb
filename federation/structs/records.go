package structs

import (
	"math"
	"time"
)

// AccountingRecord is the bill for one finished job. The store assigns Seq.
type AccountingRecord struct {
	RaftIndex
	ID          string    `json:"id"`
	Seq         uint64    `json:"seq"`
	JobID       string    `json:"job_id"`
	JobNumber   uint64    `json:"job_number,omitempty"`
	JobName     string    `json:"job_name,omitempty"`
	Tenant      string    `json:"tenant"`
	Team        string    `json:"team,omitempty"`
	User        string    `json:"user,omitempty"`
	App         string    `json:"app,omitempty"`
	MachineType string    `json:"machine_type,omitempty"`
	Cluster     string    `json:"cluster,omitempty"`
	Nodes       int       `json:"nodes,omitempty"`
	Cores       int       `json:"cores,omitempty"` // total over nodes
	GPUs        int       `json:"gpus,omitempty"`  // total over nodes
	State       JobState  `json:"state,omitempty"` // final state
	Start       time.Time `json:"start,omitzero"`
	End         time.Time `json:"end,omitzero"`
	Price       float64   `json:"price,omitempty"` // per node-hour
	Cost        float64   `json:"cost,omitempty"`

	// The fields below are written by hubs that account a job when it
	// ends (see JobStateUpdate.Account); records an older hub wrote at
	// purge time lack them, and reports derive the hours from the fields
	// above (see Usage).
	Project   string    `json:"project,omitempty"`
	Command   string    `json:"command,omitempty"`
	Submit    time.Time `json:"submit,omitzero"` // queued since
	ExitCode  int       `json:"exit_code,omitempty"`
	BurstRule string    `json:"burst_rule,omitempty"`
	NodeHours float64   `json:"node_hours,omitempty"`
	CoreHours float64   `json:"core_hours,omitempty"`
	GPUHours  float64   `json:"gpu_hours,omitempty"`

	// An array job's tasks (its final progress): how many, and the time
	// its attempts ran, as slot-hours (the sum of every attempt's run
	// time) and node-hours (each attempt's time over its node's slots: a
	// task on one of eight slots for 8 h is one node-hour). NodeHours
	// above is the allocation held; these are what the tasks used of it.
	Tasks         int     `json:"tasks,omitempty"`
	TaskNodeHours float64 `json:"task_node_hours,omitempty"`
	TaskSlotHours float64 `json:"task_slot_hours,omitempty"`
}

// Copy returns a deep copy of r.
func (r *AccountingRecord) Copy() *AccountingRecord {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

// Validate checks the fields a writer must supply.
func (r *AccountingRecord) Validate() error {
	if err := validName("accounting id", r.ID); err != nil {
		return err
	}
	if err := validName("accounting job id", r.JobID); err != nil {
		return err
	}
	if err := validName("accounting tenant", r.Tenant); err != nil {
		return err
	}
	switch {
	case r.End.Before(r.Start):
		return invalidf("accounting %q: ends before it starts", r.ID)
	case r.Nodes < 0 || r.Cores < 0 || r.GPUs < 0:
		return invalidf("accounting %q: negative size", r.ID)
	case !finiteNonNeg(r.Price) || !finiteNonNeg(r.Cost):
		return invalidf("accounting %q: price and cost must be finite and non-negative", r.ID)
	}
	return nil
}

func finiteNonNeg(f float64) bool { return f >= 0 && !math.IsInf(f, 0) }

// NewAuditID returns a fresh audit event ID ("ev-" and 26 base-32
// characters, see newID), stamped by the writer.
func NewAuditID() string { return newID("ev-") }

// MaxAuditDetail bounds an audit event's free-text fields.
const MaxAuditDetail = 512

// AuditEvent records who did what. The store assigns Seq.
type AuditEvent struct {
	RaftIndex
	ID         string    `json:"id"`
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Actor      string    `json:"actor"` // username or "cluster:<name>"
	Tenant     string    `json:"tenant,omitempty"`
	Action     string    `json:"action"` // e.g. "job.submit", "user.update"
	ObjectKind string    `json:"object_kind,omitempty"`
	ObjectName string    `json:"object_name,omitempty"`
	Outcome    string    `json:"outcome,omitempty"` // e.g. "ok", "denied"
	Detail     string    `json:"detail,omitempty"`
	// Source is the caller's network address (the API's view of it).
	Source string `json:"source,omitempty"`
	// Status is the HTTP status the action was answered with.
	Status int `json:"status,omitempty"`
}

// Copy returns a deep copy of e.
func (e *AuditEvent) Copy() *AuditEvent {
	if e == nil {
		return nil
	}
	c := *e
	return &c
}

// Validate checks the fields a writer must supply.
func (e *AuditEvent) Validate() error {
	if err := validName("audit id", e.ID); err != nil {
		return err
	}
	if err := validName("audit actor", e.Actor); err != nil {
		return err
	}
	if err := validName("audit action", e.Action); err != nil {
		return err
	}
	if e.Time.IsZero() {
		return invalidf("audit %q: no time", e.ID)
	}
	if len(e.Detail) > MaxAuditDetail || len(e.ObjectName) > MaxAuditDetail || len(e.Source) > MaxAuditDetail {
		return invalidf("audit %q: detail, object or source over %d bytes", e.ID, MaxAuditDetail)
	}
	return nil
}

// AuditList answers GET /v1/audit.
type AuditList struct {
	Events []*AuditEvent `json:"events"`
}
