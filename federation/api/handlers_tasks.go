package api

import (
	"strconv"

	"github.com/flotilla-hpc/flotilla/federation/jobs"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jobTasks lists an array job's tasks: GET /v1/jobs/{id}/tasks?state=&limit=
// (see structs.ArrayTasks).
func (s *Server) jobTasks(c *call) (any, error) {
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	j, err := txn.Job(c.r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if err := c.id.CheckReadJob(j); err != nil {
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
	v, err := s.writes.Write(c.r.Context(), cmd)
	if err != nil {
		return nil, err
	}
	out := v.(*structs.Job)
	c.setIndex(out.ModifyIndex)
	return out, nil
}
