package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jobsPath is the jobs' collection: submissions go to it.
const jobsPath = "/v1/jobs"

// SubmitJob submits a job. It stamps req.ID (when empty) before the first
// attempt, so retries after failures or leader changes return the same job
// and never create a second one.
func (c *Client) SubmitJob(ctx context.Context, req structs.JobSubmitRequest) (*structs.Job, error) {
	if req.ID == "" {
		req.ID = structs.NewJobID()
	}
	return callKeyed[structs.Job](ctx, c, jobsPath, &req)
}

// GetJob returns a job. With consistent, the read is linearizable: it sees
// every write acknowledged before it, on any replica.
func (c *Client) GetJob(ctx context.Context, id string, consistent bool) (*structs.Job, error) {
	var q url.Values
	if consistent {
		q = url.Values{"consistent": {"true"}}
	}
	return call[structs.Job](ctx, c, http.MethodGet, "/v1/jobs/"+esc(id), q, nil)
}

// JobTasks lists an array job's tasks in state (empty: all), at most
// limit (0: the hub's default).
func (c *Client) JobTasks(ctx context.Context, id string, state structs.TaskState, limit int) (*structs.TaskList, error) {
	q := url.Values{}
	if state != "" {
		q.Set("state", string(state))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return call[structs.TaskList](ctx, c, http.MethodGet, "/v1/jobs/"+esc(id)+"/tasks", q, nil)
}

// CancelTasks cancels tasks of a running array job, given as index ranges
// ("17,42,100-200"); it returns the job, whose Array.CancelTasks holds
// every task canceled so far.
func (c *Client) CancelTasks(ctx context.Context, id, tasks string) (*structs.Job, error) {
	return call[structs.Job](ctx, c, http.MethodPost, "/v1/jobs/"+esc(id)+"/tasks/cancel", nil,
		&structs.TaskCancelRequest{Tasks: tasks})
}

// TaskOutput asks for the state and output tail of task index of array
// job id, letting the hub wait up to wait (0: the hub's default, 10 s)
// for the job's head to answer. It returns the output, or nil and the
// hub's message while the head has not answered (ask again).
func (c *Client) TaskOutput(ctx context.Context, id string, index int, wait time.Duration) (*structs.TaskOutput, string, error) {
	q := url.Values{}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var reply struct {
		structs.TaskOutput
		Requested bool   `json:"requested"`
		Message   string `json:"message"`
	}
	path := "/v1/jobs/" + esc(id) + "/tasks/" + strconv.Itoa(index) + "/output"
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q, out: &reply}); err != nil {
		return nil, "", err
	}
	if reply.Requested {
		return nil, reply.Message, nil
	}
	return &reply.TaskOutput, "", nil
}

// JobQuery selects jobs for ListJobs. Zero fields are not sent.
type JobQuery struct {
	Tenant, Owner, Cluster string
	State                  structs.JobState
	Active                 bool   // only jobs not in a final state
	After                  uint64 // paging: jobs numbered above After
	Limit                  int    // page size
	// Index, when set, makes the call block until the jobs table changes
	// past it or Wait passes.
	Index      uint64
	Wait       time.Duration
	Consistent bool
}

func (q JobQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("tenant", q.Tenant)
	set("owner", q.Owner)
	set("cluster", q.Cluster)
	set("state", string(q.State))
	if q.Active {
		v.Set("active", "true")
	}
	if q.After > 0 {
		v.Set("after", strconv.FormatUint(q.After, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Index > 0 {
		v.Set("index", strconv.FormatUint(q.Index, 10))
	}
	if q.Wait > 0 {
		v.Set("wait", q.Wait.String())
	}
	if q.Consistent {
		v.Set("consistent", "true")
	}
	return v
}

// ListJobs returns one page of the jobs q selects (and the caller may see).
func (c *Client) ListJobs(ctx context.Context, q JobQuery) (*structs.JobList, error) {
	return call[structs.JobList](ctx, c, http.MethodGet, "/v1/jobs", q.values(), nil)
}

// WatchJobs blocks until the jobs table's index passes index (or wait
// passes) and returns the jobs q selects with the index to watch next.
func (c *Client) WatchJobs(ctx context.Context, q JobQuery, index uint64, wait time.Duration) (*structs.JobList, error) {
	q.Index, q.Wait = index, wait
	return c.ListJobs(ctx, q)
}

// AllJobs pages through every job q selects.
func (c *Client) AllJobs(ctx context.Context, q JobQuery) ([]*structs.Job, error) {
	var all []*structs.Job
	for {
		page, err := c.ListJobs(ctx, q)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Jobs...)
		if page.Next == 0 {
			return all, nil
		}
		q.After = page.Next
	}
}

// QueuePosition returns where a waiting job stands among the jobs waiting
// for its machine type (GET /v1/jobs/{id}/queue).
func (c *Client) QueuePosition(ctx context.Context, id string) (*structs.QueuePosition, error) {
	return call[structs.QueuePosition](ctx, c, http.MethodGet, "/v1/jobs/"+esc(id)+"/queue", nil, nil)
}

// CancelJob cancels a job (or terminates it once started). Cancelling it
// again returns it.
func (c *Client) CancelJob(ctx context.Context, id, reason string) (*structs.Job, error) {
	return callKeyed[structs.Job](ctx, c, "/v1/jobs/"+esc(id)+"/cancel",
		&structs.JobControlRequest{Reason: reason})
}

// TerminateJob stops a job whether or not it has started.
func (c *Client) TerminateJob(ctx context.Context, id, reason string) (*structs.Job, error) {
	return callKeyed[structs.Job](ctx, c, "/v1/jobs/"+esc(id)+"/terminate",
		&structs.JobControlRequest{Reason: reason})
}
