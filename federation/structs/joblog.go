package structs

// The attributes of every log line about a job, on the hub and on the
// agents (docs/operations.md, "Logs").
const (
	LogJob       = "job"        // the job's id
	LogJobNumber = "job_number" // its number, once it has one
	LogRequestID = "request_id" // the X-Request-Id of its submission
)

// LogAttrs are the attributes of the log lines about j as key-value pairs
// for log/slog: its id, its number once it has one, and the request id
// of its submission when known. A component keeps one logger per job made
// with them (logger.With(j.LogAttrs()...)) and logs everything about the
// job through it.
func (j *Job) LogAttrs() []any {
	a := make([]any, 0, 6)
	a = append(a, LogJob, j.ID)
	if j.Number != 0 {
		a = append(a, LogJobNumber, j.Number)
	}
	if j.RequestID != "" {
		a = append(a, LogRequestID, j.RequestID)
	}
	return a
}
