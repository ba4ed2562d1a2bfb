package structs

// MaxBatchJobs is the most submissions one POST /v1/jobs/batch carries.
const MaxBatchJobs = 1000

// JobBatchRequest is the body of POST /v1/jobs/batch: submissions, each
// exactly what POST /v1/jobs takes, admitted one by one.
type JobBatchRequest struct {
	Jobs []JobSubmitRequest `json:"jobs"`
}

// JobBatchReply is the reply of POST /v1/jobs/batch: one item per
// submission, in the request's order.
type JobBatchReply struct {
	Jobs []JobBatchItem `json:"jobs"`
}

// JobBatchItem is the outcome of one submission of a batch: the job
// stored for it, or why it was refused (what POST /v1/jobs would have
// answered for it alone: its status, message and the fields at fault,
// their JSON paths rooted at the batch's body, "$.jobs[3].machine_type").
type JobBatchItem struct {
	Job    *Job        `json:"job,omitempty"`
	Status int         `json:"status,omitempty"`
	Error  string      `json:"error,omitempty"`
	Errors []PathError `json:"errors,omitempty"`
	Code   string      `json:"code,omitempty"`
}
