package api

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Paging and watch bounds.
const (
	DefaultPageLimit = 1000
	MaxPageLimit     = 10000
	DefaultWatchWait = time.Minute
	MaxWatchWait     = 10 * time.Minute
)

func (s *Server) submitJob(c *call) (any, error) {
	req, err := decodeJobSubmit(c.body())
	if err != nil {
		return nil, err
	}
	return s.admitJob(c, req)
}

// admitJob submits req for c's caller: the one path of POST /v1/jobs and
// of each item of POST /v1/jobs/batch.
func (s *Server) admitJob(c *call, req *structs.JobSubmitRequest) (*structs.Job, error) {
	if req.Script != "" || req.Image != "" || len(req.ScriptArgs) > 0 {
		// A job script: checked whole first, then a job of the caller's
		// batch app for its image, which is made only for a job admitted.
		if err := req.Validate(); err != nil {
			return nil, err
		}
		app, err := s.scriptJob(c, req, true)
		if err != nil {
			return nil, err
		}
		return s.jobs.SubmitScriptJob(c.r.Context(), c.id, req, app)
	}
	return s.jobs.SubmitJob(c.r.Context(), c.id, req)
}

// jobFilter reads the list filters and paging of GET /v1/jobs and narrows
// them to what the caller may see.
func (c *call) jobFilter() (state.JobFilter, error) {
	q := c.r.URL.Query()
	f := state.JobFilter{Tenant: q.Get("tenant"), Owner: q.Get("owner"), Cluster: q.Get("cluster"),
		State: structs.JobState(q.Get("state")), Limit: DefaultPageLimit}
	if f.State != "" && !f.State.Valid() {
		return f, invalid("state %q", f.State)
	}
	var err error
	if f.After, f.Limit, err = c.pageParams(); err != nil {
		return f, err
	}
	if v := q.Get("active"); v != "" {
		if f.Active, err = strconv.ParseBool(v); err != nil {
			return f, invalid("active: want true or false")
		}
	}
	id := c.id
	if id.IsGlobalAdmin() {
		return f, nil
	}
	if f.Tenant != "" && f.Tenant != id.Tenant {
		return f, structs.Errorf(structs.ErrForbidden, "jobs of tenant %q", f.Tenant)
	}
	f.Tenant = id.Tenant
	switch {
	case id.AdminsTenant(id.Tenant):
	case len(id.AdminTeams) > 0:
		f.Match = id.CanReadJob
	default:
		if f.Owner != "" && f.Owner != id.Username {
			return f, structs.Errorf(structs.ErrForbidden, "jobs of user %q", f.Owner)
		}
		f.Owner = id.Username
	}
	return f, nil
}

// pageParams reads after (a job number) and limit (default
// DefaultPageLimit, at most MaxPageLimit).
func (c *call) pageParams() (after uint64, limit int, err error) {
	if after, err = c.queryUint("after", "a job number"); err != nil {
		return 0, 0, err
	}
	limit = DefaultPageLimit
	if v := c.r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > MaxPageLimit {
			return 0, 0, invalid("limit: want 1..%d", MaxPageLimit)
		}
	}
	return after, limit, nil
}

// queryUint reads the query parameter name, 0 when absent; want says
// what it holds, for the refusal.
func (c *call) queryUint(name, want string) (uint64, error) {
	v := c.r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, invalid("%s: want %s", name, want)
	}
	return n, nil
}

// watchParams reads index and wait: a blocking query waits up to wait for
// the index to pass index.
func (c *call) watchParams() (index uint64, wait time.Duration, err error) {
	if index, err = c.queryUint("index", "a raft index"); err != nil {
		return 0, 0, err
	}
	wait = DefaultWatchWait
	if v := c.r.URL.Query().Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 {
			return 0, 0, invalid("wait: want a duration such as 30s")
		}
		wait = min(wait, MaxWatchWait)
	}
	c.writeWithin(wait + replyTimeout)
	return index, wait, nil
}

// waitIndex blocks until table's index passes index or wait elapses (not
// an error: the caller then serves what it has).
// A replica that starts draining ends the wait likewise.
func (c *call) waitIndex(table string, index uint64, wait time.Duration) error {
	dctx, stop := c.s.untilDrain(c.r.Context())
	defer stop()
	ctx, cancel := context.WithTimeout(dctx, wait)
	defer cancel()
	_, err := c.s.reads.Store().WaitForIndex(ctx, table, index)
	return c.waitOver(err)
}

// waitOver maps the end of a watch's wait: its time is up or the replica
// drains (nil: serve what there is), or the caller went (the error).
func (c *call) waitOver(err error) error {
	if err != nil && c.r.Context().Err() == nil && (errors.Is(err, context.DeadlineExceeded) || c.s.Draining()) {
		return nil
	}
	return err
}

// waitAny blocks until one of tables' index passes index or wait elapses
// (not an error: the caller then serves what it has).
func (c *call) waitAny(index uint64, wait time.Duration, tables ...string) error {
	dctx, stop := c.s.untilDrain(c.r.Context())
	defer stop()
	ctx, cancel := context.WithTimeout(dctx, wait)
	defer cancel()
	_, err := c.s.reads.Store().WaitForAny(ctx, index, tables...)
	return c.waitOver(err)
}

func (s *Server) listJobs(c *call) (any, error) {
	f, err := c.jobFilter()
	if err != nil {
		return nil, err
	}
	index, wait, err := c.watchParams()
	if err != nil {
		return nil, err
	}
	if index > 0 {
		if err := c.waitIndex(state.TableJobs, index, wait); err != nil {
			return nil, err
		}
	}
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	at := txn.Index(state.TableJobs)
	jobs, next, err := txn.ListJobs(f)
	if err != nil {
		return nil, err
	}
	if jobs == nil {
		jobs = []*structs.Job{}
	}
	c.setIndex(at)
	return &structs.JobList{Jobs: jobs, Next: next, Index: at}, nil
}

// readableJob reads the job the path's {id} names from the caller's view,
// if the caller may read it.
func (c *call) readableJob() (*state.ReadTxn, *structs.Job, error) {
	txn, err := c.view()
	if err != nil {
		return nil, nil, err
	}
	j, err := txn.Job(c.r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	if err := c.id.CheckReadJob(j); err != nil {
		return nil, nil, err
	}
	return txn, j, nil
}

func (s *Server) getJob(c *call) (any, error) {
	_, j, err := c.readableJob()
	if err != nil {
		return nil, err
	}
	c.setIndex(j.ModifyIndex)
	return j, nil
}

func (s *Server) cancelJob(c *call) (any, error)    { return s.stopJob(c, "canceled") }
func (s *Server) terminateJob(c *call) (any, error) { return s.stopJob(c, "terminated") }

// stopJob cancels a job that has not started and terminates one that has.
func (s *Server) stopJob(c *call, verb string) (any, error) {
	var req structs.JobControlRequest
	if err := c.decodeOptional(&req); err != nil {
		return nil, err
	}
	return s.stop(c, c.r.PathValue("id"), verb, req.Reason)
}

func (s *Server) stop(c *call, jobID, verb, reason string) (*structs.Job, error) {
	j, err := c.jobForControl(jobID)
	if err != nil {
		return nil, err
	}
	return s.jobs.CancelJob(c.r.Context(), c.id, j, verb, reason)
}

// jobForControl finds a job the caller wants to change (whether they may
// is federation/jobs' to decide). A job this replica has not seen yet
// may have been acknowledged elsewhere, so a miss is confirmed with a
// linearizable read before it is reported.
func (c *call) jobForControl(jobID string) (*structs.Job, error) {
	return fresh(c, func(r *state.ReadTxn) (*structs.Job, error) { return r.Job(jobID) })
}
