package client

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// JobResult is the outcome of one submission of SubmitJobs: the job the
// hub stored for it, or why it was not (an *APIError when the hub
// refused it, with the status a single submission would have got).
type JobResult struct {
	Job *structs.Job
	Err error
}

// batchPath is the hub's batch submission endpoint.
const batchPath = "/v1/jobs/batch"

// fallbackWorkers bounds the single submissions in flight when a hub
// without the batch endpoint gets a batch one call per job.
const fallbackWorkers = 8

// SubmitJobs submits reqs with POST /v1/jobs/batch, at most
// structs.MaxBatchJobs a call, and returns one result per request, in
// order. It stamps every request without an ID with a new one, in reqs
// itself, before the first attempt: a retry of the call — by the client
// (the same rules as SubmitJob's) or by the caller with the same reqs —
// returns the jobs already stored and never creates one twice. Items the
// hub refused for a passing reason (503, 429, 502, 504: the outcome of
// that item is unknown or nothing was done) are sent again, with their
// ids, until the retry budget (WithRetryTimeout) ends. A hub without the
// batch endpoint (404 or 405 for it: an older release) gets one
// POST /v1/jobs per job instead.
//
// err is the failure of a whole call (nothing known of that call's
// items); the results of the calls before it are filled in, the rest
// are zero.
func (c *Client) SubmitJobs(ctx context.Context, reqs []structs.JobSubmitRequest) ([]JobResult, error) {
	for i := range reqs {
		if reqs[i].ID == "" {
			reqs[i].ID = structs.NewJobID()
		}
	}
	out := make([]JobResult, len(reqs))
	single := false
	for lo := 0; lo < len(reqs); lo += structs.MaxBatchJobs {
		hi := min(lo+structs.MaxBatchJobs, len(reqs))
		if !single {
			err := c.submitBatch(ctx, reqs[lo:hi], out[lo:hi])
			switch s := StatusOf(err); {
			case err == nil:
				continue
			case s == http.StatusNotFound || s == http.StatusMethodNotAllowed:
				single = true
			default:
				return out, err
			}
		}
		c.submitEach(ctx, reqs[lo:hi], out[lo:hi])
	}
	return out, nil
}

// submitBatch submits reqs in one batch call, then again those items the
// hub refused for a passing reason, and fills out.
func (c *Client) submitBatch(ctx context.Context, reqs []structs.JobSubmitRequest, out []JobResult) error {
	// One retry budget for the calls and resends, a deadline checked
	// between them (as do does between attempts).
	deadline := c.now().Add(c.retryTimeout)
	todo := make([]int, len(reqs)) // indexes of reqs still to send
	for i := range todo {
		todo[i] = i
	}
	backoff := c.backoffMin
	for {
		body := &structs.JobBatchRequest{Jobs: make([]structs.JobSubmitRequest, len(todo))}
		for k, i := range todo {
			body.Jobs[k] = reqs[i]
		}
		reply := new(structs.JobBatchReply)
		_, err := c.do(ctx, request{method: http.MethodPost, path: batchPath, body: body, out: reply, keyed: true,
			deadline: deadline})
		if err != nil {
			if len(todo) < len(reqs) {
				// A resend failed whole: those items alone get its error.
				for _, i := range todo {
					out[i] = JobResult{Err: err}
				}
				return nil
			}
			return err
		}
		if len(reply.Jobs) != len(todo) {
			return fmt.Errorf("client: POST %s: %d results for %d jobs", batchPath, len(reply.Jobs), len(todo))
		}
		var again []int
		for k, i := range todo {
			it := reply.Jobs[k]
			if it.Job != nil && it.Error == "" {
				out[i] = JobResult{Job: it.Job}
				continue
			}
			ae := &APIError{Status: it.Status, Message: it.Error, Code: it.Code, Errors: it.Errors}
			if ae.Status == 0 {
				ae.Status = http.StatusInternalServerError
			}
			out[i] = JobResult{Err: ae}
			if passing(ae.Status) {
				again = append(again, i)
			}
		}
		if len(again) == 0 {
			return nil
		}
		if backoff >= deadline.Sub(c.now()) || !sleep(ctx, backoff) {
			return nil // those items keep their last refusal
		}
		backoff = min(2*backoff, c.backoffMax)
		todo = again
	}
}

// passing reports an item's refusal that a resend may turn: the hub did
// nothing (429, 503 with Retry-After for a whole call) or does not know
// (503, 502, 504); resending it with its id is safe either way.
func passing(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// submitEach submits reqs one call each (a hub without the batch
// endpoint), a few at a time, and fills out.
func (c *Client) submitEach(ctx context.Context, reqs []structs.JobSubmitRequest, out []JobResult) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(fallbackWorkers, len(reqs)) {
		wg.Go(func() {
			for i := range next {
				j, err := c.SubmitJob(ctx, reqs[i])
				out[i] = JobResult{Job: j, Err: err}
			}
		})
	}
	for i := range reqs {
		next <- i
	}
	close(next)
	wg.Wait()
}
