package api

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jarviceNamedJob authenticates the caller and finds the job named.
func (s *Server) jarviceNamedJob(c *call) (*jarviceArgs, *structs.Job, error) {
	a, err := s.jarviceLogin(c)
	if err != nil {
		return nil, nil, err
	}
	j, err := c.jarviceJob(a)
	if j != nil {
		c.object = j.ID
	}
	return a, j, err
}

func jobMap(jobs []*structs.Job) map[string]structs.JarviceJobStatus {
	out := make(map[string]structs.JarviceJobStatus, len(jobs))
	for _, j := range jobs {
		out[strconv.FormatUint(j.Number, 10)] = structs.NewJarviceJobStatus(j)
	}
	return out
}

func (s *Server) jarviceStatus(c *call) (any, error) {
	_, j, err := s.jarviceNamedJob(c)
	if err != nil {
		return nil, err
	}
	return jobMap([]*structs.Job{j}), nil
}

// jarviceJobList lists the caller's jobs (with team, those of the teams it
// administers too): queued and running ones, or with completed=true the
// completed ones only.
func (s *Server) jarviceJobList(c *call, team bool) (any, error) {
	a, err := s.jarviceLogin(c)
	if err != nil {
		return nil, err
	}
	completed, err := a.flag("completed")
	if err != nil {
		return nil, err
	}
	id := c.id
	f := state.JobFilter{Tenant: id.Tenant, Active: !completed, Match: func(j *structs.Job) bool {
		if completed && !j.State.IsTerminal() {
			return false
		}
		return j.Owner == id.Username || (team && j.Team != "" && id.AdminsTeam(j.Tenant, j.Team))
	}}
	jobs, _, err := s.reads.Store().Read().ListJobs(f)
	if err != nil {
		return nil, err
	}
	return jobMap(jobs), nil
}

func (s *Server) jarviceJobs(c *call) (any, error)     { return s.jarviceJobList(c, false) }
func (s *Server) jarviceTeamJobs(c *call) (any, error) { return s.jarviceJobList(c, true) }

// jarviceInfo is /jarvice/info: values Flotilla does not know are null.
func (s *Server) jarviceInfo(c *call) (any, error) {
	_, j, err := s.jarviceNamedJob(c)
	if err != nil {
		return nil, err
	}
	info := &structs.JarviceJobInfo{Actions: map[string]map[string]string{}}
	if j.State == structs.JobRunning && j.ConnectURL != "" {
		conn := newJarviceConnect(j.ConnectURL)
		info.URL, info.Address, info.Password = &conn.Address, &conn.Address, &conn.Password
	}
	if app, err := s.reads.Store().Read().AppRef(j.App); err == nil && app.AppDef.Description != "" {
		about := app.AppDef.Description
		info.About = &about
	}
	return info, nil
}

// jarviceConnect is /jarvice/connect: a running job of an interactive
// command answers its token-guarded URL (address) and token (password)
// once its agent reported them; not running is 404 "Running job is not
// found" (as shutdown), not interactive 400, not reported yet 404 with
// the reason (the reference: it may take a few seconds after the start).
func (s *Server) jarviceConnect(c *call) (any, error) {
	_, j, err := s.jarviceNamedJob(c)
	if err != nil {
		return nil, err
	}
	if j.State != structs.JobRunning {
		return nil, errRunningJobNotFound
	}
	if j.ConnectURL == "" {
		if !s.interactive(j) {
			return nil, invalid("job %q does not run an interactive command", j.Name)
		}
		return nil, structs.Errorf(structs.ErrNotFound, "job %q: connection details not known yet, try again in a few seconds", j.Name)
	}
	return newJarviceConnect(j.ConnectURL), nil
}

// newJarviceConnect is the /jarvice/connect reply for a job's ConnectURL.
func newJarviceConnect(connectURL string) *structs.JarviceConnect {
	c := &structs.JarviceConnect{Address: connectURL}
	if u, err := url.Parse(connectURL); err == nil {
		c.Password = u.Query().Get(structs.ConnectTokenParam)
	}
	return c
}

// interactive says whether job j runs an interactive command of its app.
func (s *Server) interactive(j *structs.Job) bool {
	app, err := s.reads.Store().Read().AppRef(j.App)
	if err != nil {
		return false
	}
	return app.AppDef.Commands[j.Command].Interactive
}

// jarviceLog serves the head's output the agent reported: output for a
// completed job, tail for a running one; lines (default 100, 0 = all).
// A tail of an ended job is the reference's 404 "Running job is not
// found".
func (s *Server) jarviceLog(c *call, completed bool) (any, error) {
	a, j, err := s.jarviceNamedJob(c)
	if err != nil {
		return nil, err
	}
	n, err := a.intArg("lines", 100)
	if err != nil {
		return nil, err
	}
	switch {
	case completed && !j.State.IsTerminal():
		return nil, invalid("job %q has not completed: use /jarvice/tail", j.Name)
	case !completed && j.State.IsTerminal():
		return nil, errRunningJobNotFound // the reference's answer (see /jarvice/output)
	}
	return &rawReply{contentType: jarviceText, body: []byte(lastLines(j.LogTail, n))}, nil
}

func (s *Server) jarviceOutput(c *call) (any, error) { return s.jarviceLog(c, true) }
func (s *Server) jarviceTail(c *call) (any, error)   { return s.jarviceLog(c, false) }

// lastLines returns the last n lines of text (all for n == 0), each ending
// in a single newline.
func lastLines(text string, n int) string {
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	if n > 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// jarviceShutdown is /jarvice/shutdown: a job in PROCESSING STARTING
// stops; any other gets 404 "Running job is not found".
func (s *Server) jarviceShutdown(c *call) (any, error) {
	_, j, err := s.jarviceNamedJob(c)
	if err != nil {
		return nil, err
	}
	if !j.State.Started() {
		return nil, errRunningJobNotFound
	}
	if _, err := s.stop(c, j.ID, "shutdown", ""); err != nil {
		return nil, err
	}
	return &structs.JarviceAction{Status: "shutdown requested"}, nil
}

// jarviceTerminate is /jarvice/terminate: the job stops whatever its state.
func (s *Server) jarviceTerminate(c *call) (any, error) {
	_, j, err := s.jarviceNamedJob(c)
	if err != nil {
		return nil, err
	}
	if !j.State.IsTerminal() {
		if _, err := s.stop(c, j.ID, "terminated", ""); err != nil {
			return nil, err
		}
	}
	return &structs.JarviceAction{Status: "terminated"}, nil
}

// jarviceAction is /jarvice/action: the action must be one /jarvice/info
// lists, and Flotilla apps define none.
func (s *Server) jarviceAction(c *call) (any, error) {
	a, j, err := s.jarviceNamedJob(c)
	if err != nil {
		return nil, err
	}
	if a.Get("action") == "" {
		return nil, invalid("action is required")
	}
	return nil, invalid("job %q has no action %q (see /jarvice/info)", j.Name, a.Get("action"))
}

// jarviceEvents is /jarvice/events: the job's life as text, one event a line.
func (s *Server) jarviceEvents(c *call) (any, error) {
	_, j, err := s.jarviceNamedJob(c)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, e := range []struct {
		what string
		t    int64
	}{{"SUBMITTED", j.SubmitTime.Unix()}, {"ASSIGNED " + j.Cluster, j.AssignTime.Unix()},
		{"STARTED", j.StartTime.Unix()}, {"ENDED " + string(j.State), j.EndTime.Unix()}} {
		if e.t > 0 {
			fmt.Fprintf(&b, "%d %s\n", e.t, e.what)
		}
	}
	if j.Substatus != "" {
		fmt.Fprintf(&b, "substatus: %s\n", j.Substatus)
	}
	return &rawReply{contentType: jarviceText, body: []byte(b.String())}, nil
}

// jarviceMetrics is /jarvice/metrics: 404 until metrics are available,
// which the hub does not collect.
func (s *Server) jarviceMetrics(c *call) (any, error) {
	_, j, err := s.jarviceNamedJob(c)
	if err != nil {
		return nil, err
	}
	return nil, structs.Errorf(structs.ErrNotFound, "job %q: no metrics available", j.Name)
}
