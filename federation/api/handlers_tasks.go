package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"

	"github.com/flotilla-hpc/flotilla/federation/jobs"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jobTasks lists an array job's tasks: GET /v1/jobs/{id}/tasks?state=&limit=
// (see structs.ArrayTasks).
func (s *Server) jobTasks(c *call) (any, error) {
	_, j, err := c.readableJob()
	if err != nil {
		return nil, err
	}
	if j.Array == nil {
		return nil, structs.Errorf(structs.ErrInvalid, "job %q is not an array job: it has no tasks", j.ID)
	}
	q := c.r.URL.Query()
	limit := structs.DefaultTaskListLimit
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > structs.MaxTaskListLimit {
			return nil, structs.Errorf(structs.ErrInvalid, "limit %q: want 1..%d", v, structs.MaxTaskListLimit)
		}
	}
	c.setIndex(j.ModifyIndex)
	return structs.ArrayTasks(j.Array, structs.TaskState(q.Get("state")), limit)
}

// cancelTasks cancels tasks of a running array job: POST
// /v1/jobs/{id}/tasks/cancel {"tasks": "17,42,100-200"}. The tasks join
// the job's canceled ones (Job.Array.CancelTasks); the agent hands them to
// the job's dispatcher and the reported progress counts them. It returns
// the job.
func (s *Server) cancelTasks(c *call) (any, error) {
	var req structs.TaskCancelRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	j, err := c.jobForControl(c.r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	cmd, err := jobs.CancelTasks(c.id, j, req.Tasks, s.now())
	if err != nil {
		return nil, err
	}
	return s.writeJob(c, cmd)
}

// writeJob writes cmd, a command whose result is the job it changed, and
// returns that job, its modify index the reply's.
func (s *Server) writeJob(c *call, cmd fsm.Command) (*structs.Job, error) {
	v, err := s.writes.Write(c.r.Context(), cmd)
	if err != nil {
		return nil, err
	}
	out := v.(*structs.Job)
	c.setIndex(out.ModifyIndex)
	return out, nil
}

// Waits of GET /v1/jobs/{id}/tasks/{n}/output for the head's answer.
const (
	DefaultOutputWait = 10 * time.Second
	MaxOutputWait     = 30 * time.Second
)

// taskOutput answers one task's state and output tail: GET
// /v1/jobs/{id}/tasks/{n}/output?wait=10s, for whoever may read the job.
// What the job record keeps is served; otherwise the request is recorded
// (raft command JobOutputRequest) for the head, and the call waits up to
// wait for its answer: 202 with a TaskOutputPending when it has not come
// (ask again). See structs.DecideTaskOutput for the 4xx cases.
func (s *Server) taskOutput(c *call) (any, error) {
	n, err := strconv.Atoi(c.r.PathValue("n"))
	if err != nil || n < 0 {
		return nil, invalid("task %q: want a task index (a non-negative integer)", c.r.PathValue("n"))
	}
	wait := DefaultOutputWait
	if v := c.r.URL.Query().Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 {
			return nil, invalid("wait: want a duration such as 10s")
		}
		wait = min(wait, MaxOutputWait)
	}
	c.writeWithin(wait + replyTimeout)
	id := c.r.PathValue("id")
	j, err := c.jobForControl(id) // a miss is confirmed with a linearizable read
	if err != nil {
		return nil, err
	}
	if err := c.id.CheckReadJob(j); err != nil {
		return nil, err
	}
	deadline, asked := s.wall().Add(wait), false
	for {
		act, out, err := structs.DecideTaskOutput(j, n, s.now())
		if err != nil {
			return nil, err
		}
		if act == structs.OutputServe {
			c.setIndex(j.ModifyIndex)
			return out, nil
		}
		at := j.ModifyIndex
		if act == structs.OutputAsk && !asked {
			v, err := s.writes.Write(c.r.Context(), &fsm.JobOutputRequest{ID: j.ID, Index: n, Time: s.now().UTC()})
			if err != nil {
				return nil, err
			}
			asked, at = true, v.(*structs.Job).ModifyIndex
		}
		left := deadline.Sub(s.wall())
		if left <= 0 {
			return outputPending(n)
		}
		// Wake on the next change of any job past both the record read
		// and the request written (this replica may lag the leader).
		txn := s.reads.Store().Read()
		if err := c.waitIndex(state.TableJobs, max(at, txn.Index(state.TableJobs)), left); err != nil {
			return nil, err
		}
		if j, err = s.reads.Store().Read().Job(id); err != nil {
			return nil, err
		}
	}
}

// outputPending is the 202 reply of a request the head has not answered.
func outputPending(n int) (any, error) {
	b, err := json.Marshal(&structs.TaskOutputPending{Index: n, Requested: true,
		Message: fmt.Sprintf("the output of task %d is requested from the job's head: ask again in a few seconds", n)})
	if err != nil {
		return nil, err
	}
	return &rawReply{contentType: "application/json", body: append(b, '\n'), status: http.StatusAccepted}, nil
}
