package api

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
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

// newJobID makes a job ID for submitters that did not stamp one.
func newJobID() string { return "j-" + strings.ToLower(rand.Text()) }

func (s *Server) submitJob(c *call) (any, error) {
	req, err := decodeJobSubmit(c.body())
	if err != nil {
		return nil, err
	}
	return s.submit(c, req)
}

// submit checks the caller may submit req and hands it to the backend.
func (s *Server) submit(c *call, req *structs.JobSubmitRequest) (*structs.Job, error) {
	id := c.id
	if req.ID == "" {
		req.ID = newJobID()
	}
	if req.Team != "" && !id.MemberOf(id.Tenant, req.Team) && !id.AdminsTeam(id.Tenant, req.Team) {
		return nil, structs.Errorf(structs.ErrForbidden, "team %q: not a member", req.Team)
	}
	txn := s.b.Store().Read()
	if app, err := txn.AppRef(req.App); err == nil {
		if err := id.CheckUseApp(app); err != nil {
			return nil, err
		}
	}
	if mt, err := txn.MachineTypeRef(req.MachineType); err == nil {
		if err := id.CheckUseMachineType(mt); err != nil {
			return nil, err
		}
	}
	j := &structs.Job{
		ID: req.ID, Label: req.Label, Project: req.Project,
		Tenant: id.Tenant, Team: req.Team, Owner: id.Username,
		App: req.App, Command: req.Command, Parameters: req.Parameters,
		MachineType: req.MachineType, Nodes: req.Nodes, Vault: req.Vault,
		Walltime: req.Walltime, Priority: req.Priority,
	}
	return s.b.SubmitJob(c.r.Context(), j)
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
	q := c.r.URL.Query()
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			return 0, 0, invalid("after: want a job number")
		}
	}
	limit = DefaultPageLimit
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > MaxPageLimit {
			return 0, 0, invalid("limit: want 1..%d", MaxPageLimit)
		}
	}
	return after, limit, nil
}

// watchParams reads index and wait: a blocking query waits up to wait for
// the index to pass index.
func (c *call) watchParams() (index uint64, wait time.Duration, err error) {
	q := c.r.URL.Query()
	if v := q.Get("index"); v != "" {
		if index, err = strconv.ParseUint(v, 10, 64); err != nil {
			return 0, 0, invalid("index: want a raft index")
		}
	}
	wait = DefaultWatchWait
	if v := q.Get("wait"); v != "" {
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
func (c *call) waitIndex(table string, index uint64, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(c.r.Context(), wait)
	defer cancel()
	_, err := c.s.b.Store().WaitForIndex(ctx, table, index)
	if err != nil && c.r.Context().Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// waitAny blocks until one of tables' index passes index or wait elapses
// (not an error: the caller then serves what it has).
func (c *call) waitAny(index uint64, wait time.Duration, tables ...string) error {
	ctx, cancel := context.WithTimeout(c.r.Context(), wait)
	defer cancel()
	_, err := c.s.b.Store().WaitForAny(ctx, index, tables...)
	if err != nil && c.r.Context().Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
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

func (s *Server) getJob(c *call) (any, error) {
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
	if reason == "" {
		reason = verb + " by " + c.id.Subject()
	}
	return s.b.CancelJob(c.r.Context(), j.ID, reason)
}

// jobForControl finds a job the caller wants to change. A job this replica
// has not seen yet may have been acknowledged elsewhere, so a miss is
// confirmed with a linearizable read before it is reported.
func (c *call) jobForControl(jobID string) (*structs.Job, error) {
	j, err := fresh(c, func(r *state.ReadTxn) (*structs.Job, error) { return r.Job(jobID) })
	if err != nil {
		return nil, err
	}
	return j, c.id.CheckControlJob(j)
}
