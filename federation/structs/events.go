package structs

import "time"

// MaxEvents is how many job events the hub keeps (the oldest go first).
const MaxEvents = 20_000

// JobEvent is one change of a job's state, as the FSM recorded it: Index
// is the raft index it was applied at (several events may share one; Seq
// orders them and is unique).
type JobEvent struct {
	Seq      uint64    `json:"seq"`
	Index    uint64    `json:"index"`
	JobID    string    `json:"job_id"`
	Number   uint64    `json:"number"`
	Tenant   string    `json:"tenant"`
	Team     string    `json:"team,omitempty"`
	Owner    string    `json:"owner"`
	App      string    `json:"app"`
	State    JobState  `json:"state"`
	Previous JobState  `json:"previous,omitempty"`
	ExitCode int       `json:"exit_code,omitempty"`
	Time     time.Time `json:"time,omitzero"`
	Trigger  string    `json:"trigger,omitempty"`
}

// Copy returns a copy of e.
func (e *JobEvent) Copy() *JobEvent {
	c := *e
	return &c
}

// EventPage is a reply of GET /v1/events: the events after the requested
// index the caller may see, whole raft indexes only, and Index, the value
// of since that continues after them.
type EventPage struct {
	Events []*JobEvent `json:"events"`
	Index  uint64      `json:"index"`
}

// EventsGone is the body of a 410 reply: since is older than the oldest
// event kept; Oldest is the first index still available.
type EventsGone struct {
	Error  string `json:"error"`
	Oldest uint64 `json:"oldest_index"`
}
