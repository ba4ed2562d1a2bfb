package api

import (
	"strconv"

	"github.com/flotilla-hpc/flotilla/federation/jobs"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// signalJob sends a signal to a running job: POST /v1/jobs/{id}/signal
// {"signal": "USR1", "scope": "batch"|"all"}. The request is recorded on
// the job (Job.Signals, raft command JobSignal) and the job's agent hands
// it to flotilla-init in the job's pods, which delivers it once. It
// returns the job, whose last Signals entry is this request. See
// jobs.Signal for the refusals; a refused request changes nothing.
func (s *Server) signalJob(c *call) (any, error) {
	var req structs.SignalRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	j, err := s.sendSignal(c, c.r.PathValue("id"), &req)
	if err != nil {
		return nil, err
	}
	c.setIndex(j.ModifyIndex)
	return j, nil
}

// sendSignal decides and records a signal request on job id.
func (s *Server) sendSignal(c *call, id string, req *structs.SignalRequest) (*structs.Job, error) {
	type target struct {
		job     *structs.Job
		cluster *structs.Cluster
	}
	read := func(r *state.ReadTxn) (target, error) {
		j, err := r.Job(id)
		if err != nil {
			return target{}, err
		}
		cl, err := optional(r.Cluster(j.Cluster))
		return target{j, cl}, err
	}
	t, err := fresh(c, read)
	if err == nil && t.job.State != structs.JobRunning {
		t, err = current(c, read) // this replica may not have seen it start yet
	}
	if err != nil {
		return nil, err
	}
	c.object = t.job.ID
	cmd, err := jobs.Signal(c.id, t.job, t.cluster, req, s.now())
	if err != nil {
		return nil, err
	}
	return s.writeJob(c, cmd)
}

// jarviceSignalReply is /jarvice/signal's answer: the reference's
// {"signal": N, "pid": PID}. The hub does not know the process's id (the
// job's pods deliver the signal after the call returns): pid is 0, and
// flotilla_request is the request's sequence number on the job, which
// the job log's "flotilla: signal ... delivered (request N)" line names.
type jarviceSignalReply struct {
	Signal  int `json:"signal"`
	PID     int `json:"pid"`
	Request int `json:"flotilla_request"`
}

// jarviceSignal is /jarvice/signal: the signal's number (default 20,
// SIGTSTP, as the reference says) goes to every process of a running job
// (scope all); a job not running is 404 "Running job is not found".
func (s *Server) jarviceSignal(c *call) (any, error) {
	a, j, err := s.jarviceNamedJob(c)
	if err != nil {
		return nil, err
	}
	sig, err := a.intArg("signal", 20)
	if err != nil || sig < 1 || sig > structs.MaxSignal {
		return nil, invalid("signal: want the signal's number, 1..%d", structs.MaxSignal)
	}
	if j.State != structs.JobRunning {
		return nil, errRunningJobNotFound
	}
	out, err := s.sendSignal(c, j.ID, &structs.SignalRequest{Signal: strconv.Itoa(sig), Scope: structs.SignalAll})
	if err != nil {
		return nil, err
	}
	return &jarviceSignalReply{Signal: sig, Request: out.Signals[len(out.Signals)-1].Seq}, nil
}
