package structs

import (
	"time"
)

// Messages below travel in the raft log. The writer stamps every time before
// logging, so applying them needs no clock.

// JobStateUpdate reports progress of a job, usually from its cluster's agent.
// The dispatcher's updates (hold, release, requeue, reasons) carry a CAS
// with the job's modify index as its pass read it, so an update computed
// on an older state (a deposed leader's pass) is refused with ErrConflict
// and the newer state stands.
type JobStateUpdate struct {
	ID string `json:"id"`
	// Cluster, when set, must be the job's cluster: a stale agent of a
	// cluster the job was moved away from cannot change it.
	Cluster string `json:"cluster,omitempty"`
	// Number, when set, must be the job's number: a job id may be used
	// again after its job is purged, the number never is, so a late report
	// about a purged job cannot land on a newer job with the same id.
	Number    uint64   `json:"number,omitempty"`
	State     JobState `json:"state"`
	Substatus string   `json:"substatus,omitempty"` // replaces the job's substatus
	ExitCode  int      `json:"exit_code,omitempty"` // kept on terminal states
	LogTail   string   `json:"log_tail,omitempty"`  // replaces the tail when non-empty
	// Array replaces an array job's progress when non-nil.
	Array *ArrayProgress `json:"array,omitempty"`
	// Outputs are task outputs an array job's head answered requests
	// with (ArrayJob.WithOutputs records them).
	Outputs []TaskOutput `json:"outputs,omitempty"`
	// ConnectURL, with State RUNNING, is the interactive job's
	// token-guarded address (kept until the job leaves RUNNING).
	ConnectURL string    `json:"connect_url,omitempty"`
	Time       time.Time `json:"time"`
	CAS
	// Account, set by the hub on agents' reports, makes an update that
	// ends the job write its accounting record in the same transaction
	// (see AccountingRecord). Entries logged before it existed end jobs
	// without one; the purge writes it then.
	Account bool `json:"account,omitempty"`
}

// JobAssignment places a SUBMITTED or QUEUED job on a cluster. The
// dispatcher sets CAS to the job's modify index as its pass read it.
type JobAssignment struct {
	ID      string    `json:"id"`
	Cluster string    `json:"cluster"`
	Time    time.Time `json:"time"`
	// MachineType and BurstRule are set when a burst rule placed the job on
	// a machine type other than the one it was submitted for; they become
	// the job's AssignedMachineType and BurstRule.
	MachineType string `json:"machine_type,omitempty"`
	BurstRule   string `json:"burst_rule,omitempty"`
	// Reason says why placement chose this cluster ("pinned to east",
	// "burst by rule R"); it becomes the job's substatus.
	Reason string `json:"reason,omitempty"`
	CAS
}

// JobCancel stops a job: one that has not started becomes CANCELED, one
// that has (STARTING, RUNNING) becomes TERMINATED.
type JobCancel struct {
	ID     string    `json:"id"`
	Reason string    `json:"reason,omitempty"` // becomes the substatus
	Time   time.Time `json:"time"`
	// Account: as JobStateUpdate.Account.
	Account bool `json:"account,omitempty"`
}

// JobCancelTasks cancels tasks of a running array job: Tasks (ranges)
// join the job's ArrayJob.CancelTasks.
type JobCancelTasks struct {
	ID    string    `json:"id"`
	Tasks string    `json:"tasks"`
	Time  time.Time `json:"time"`
}

// ClusterHeartbeat is an agent's periodic report.
type ClusterHeartbeat struct {
	Cluster string        `json:"cluster"`
	Status  ClusterStatus `json:"status,omitempty"` // empty keeps the stored status
	// Capacity replaces the stored capacity when non-nil.
	Capacity map[string]Capacity `json:"capacity,omitempty"`
	Time     time.Time           `json:"time"`
	// Catalog replaces the stored catalog report when non-nil.
	Catalog *ClusterCatalog `json:"catalog,omitempty"`
}

// Validate checks the fields a writer must supply.
func (h *ClusterHeartbeat) Validate() error {
	if err := validName("heartbeat cluster", h.Cluster); err != nil {
		return err
	}
	if h.Status != "" && !h.Status.Valid() {
		return invalidf("heartbeat of %q: status %q", h.Cluster, h.Status)
	}
	if h.Time.IsZero() {
		return invalidf("heartbeat of %q: no time", h.Cluster)
	}
	if err := h.Catalog.Validate(); err != nil {
		return err
	}
	return validCapacity(h.Cluster, h.Capacity)
}

// CAS is a compare-and-swap precondition an upsert carries: the write
// applies only if the object it replaces is the one the writer read, so two
// read-modify-write updates cannot silently overwrite each other. The zero
// value places no condition (the write is unconditional).
type CAS struct {
	// ExpectModifyIndex > 0: the object must be stored with this ModifyIndex.
	ExpectModifyIndex uint64 `json:"expect_modify_index,omitempty"`
	// ExpectAbsent: the object must not be stored (create only).
	ExpectAbsent bool `json:"expect_absent,omitempty"`
}

// CASOf returns the precondition that the object read as ri (nil: read as
// absent) is still the stored one.
func CASOf(ri *RaftIndex) CAS {
	if ri == nil {
		return CAS{ExpectAbsent: true}
	}
	return CAS{ExpectModifyIndex: ri.ModifyIndex}
}

// IsZero reports whether c places no condition.
func (c CAS) IsZero() bool { return c == CAS{} }

// Check tests the precondition against the stored object's indexes (nil:
// none is stored). A refusal is an ErrConflict naming both indexes, e.g.
// `user "bob" changed concurrently (modify index 12, expected 9)`; what
// and name say which object. The zero CAS passes.
func (c CAS) Check(have *RaftIndex, what, name string) error {
	switch {
	case c.ExpectAbsent && c.ExpectModifyIndex > 0:
		return invalidf("%s %q: a write cannot expect both no object and modify index %d", what, name, c.ExpectModifyIndex)
	case c.ExpectAbsent && have != nil:
		return Errorf(ErrConflict, "%s %q changed concurrently (exists at modify index %d, expected none)",
			what, name, have.ModifyIndex)
	case c.ExpectModifyIndex > 0 && have == nil:
		return Errorf(ErrConflict, "%s %q changed concurrently (not stored, expected modify index %d)",
			what, name, c.ExpectModifyIndex)
	case c.ExpectModifyIndex > 0 && have.ModifyIndex != c.ExpectModifyIndex:
		return Errorf(ErrConflict, "%s %q changed concurrently (modify index %d, expected %d)",
			what, name, have.ModifyIndex, c.ExpectModifyIndex)
	}
	return nil
}
