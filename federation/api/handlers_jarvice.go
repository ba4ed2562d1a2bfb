package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jarviceAuth authenticates a JARVICE request by username and apikey, from
// the body's user object when given, else from the query.
func (c *call) jarviceAuth(u *structs.JarviceUser) error {
	q := c.r.URL.Query()
	username, key := q.Get("username"), q.Get("apikey")
	if u != nil && u.Username != "" {
		username, key = u.Username, u.APIKey
	}
	id, err := c.login(key, func() (*auth.Identity, error) { return c.s.authn.UserKey(username, key) })
	if err != nil {
		return err
	}
	c.id = id
	return nil
}

// jarviceJobRequest turns a JARVICE submission into a v1 one.
func jarviceJobRequest(j *structs.JarviceSubmit) (*structs.JobSubmitRequest, error) {
	req := &structs.JobSubmitRequest{App: j.App, Command: j.Application.Command,
		MachineType: j.Machine.Type, Nodes: j.Machine.Nodes, Label: j.JobLabel, Project: j.JobProject}
	if req.Nodes == 0 {
		req.Nodes = 1
	}
	switch {
	case req.App == "":
		return nil, invalid("submit: app is required")
	case req.MachineType == "":
		return nil, invalid("submit: machine.type is required")
	case req.Nodes < 1 || req.Nodes > structs.MaxJobNodes:
		return nil, invalid("submit: machine.nodes %d out of 1..%d", req.Nodes, structs.MaxJobNodes)
	}
	var err error
	if req.Walltime, err = structs.ParseDuration(j.Application.Walltime); err != nil {
		return nil, err
	}
	if req.Walltime < 0 {
		return nil, invalid("submit: negative walltime")
	}
	if p := structs.PriorityClass(strings.ToLower(j.JobPriority)); p != "" {
		if !p.Valid() {
			return nil, invalid("submit: job_priority %q: want normal, high or highest", j.JobPriority)
		}
		req.Priority = p
	}
	if j.Vault != nil {
		req.Vault = j.Vault.Name
	}
	if len(j.Application.Parameters) > 0 {
		req.Parameters = make(map[string]string, len(j.Application.Parameters))
		for k, raw := range j.Application.Parameters {
			v, err := scalarText(raw)
			if err != nil {
				return nil, invalid("submit: parameter %q: %v", k, err)
			}
			req.Parameters[k] = v
		}
	}
	return req, nil
}

// scalarText renders a JSON string, number or boolean as a parameter value.
func scalarText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", errors.New("empty value")
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case '{', '[', 'n':
		return "", errors.New("want a string, number or boolean")
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}

func (s *Server) jarviceSubmit(c *call) (any, error) {
	j, err := decodeJarviceSubmit(c.body())
	if err != nil {
		return nil, err
	}
	if err := c.jarviceAuth(&j.User); err != nil {
		return nil, err
	}
	req, err := jarviceJobRequest(j)
	if err != nil {
		return nil, err
	}
	job, err := s.submit(c, req)
	if err != nil {
		return nil, err
	}
	return &structs.JarviceSubmitReply{Name: job.Name, Number: job.Number}, nil
}

// jarviceJob finds the job named by ?number= or ?name= that the caller may
// see, confirming a miss with a linearizable read.
func (c *call) jarviceJob() (*structs.Job, error) {
	q := c.r.URL.Query()
	name, numText := q.Get("name"), q.Get("number")
	if numText == "" && name != "" {
		numText = name[strings.LastIndexByte(name, '-')+1:]
	}
	if numText == "" {
		return nil, invalid("name or number is required")
	}
	num, err := strconv.ParseUint(numText, 10, 64)
	if err != nil {
		return nil, invalid("job %q: no such job name or number", numText)
	}
	j, err := fresh(c, func(r *state.ReadTxn) (*structs.Job, error) { return r.JobByNumber(num) })
	if err != nil {
		return nil, err
	}
	if name != "" && j.Name != name {
		return nil, structs.Errorf(structs.ErrNotFound, "job %q", name)
	}
	return j, c.id.CheckReadJob(j)
}

func (s *Server) jarviceStatus(c *call) (any, error) {
	if err := c.jarviceAuth(nil); err != nil {
		return nil, err
	}
	j, err := c.jarviceJob()
	if err != nil {
		return nil, err
	}
	return map[string]structs.JarviceJobStatus{strconv.FormatUint(j.Number, 10): structs.NewJarviceJobStatus(j)}, nil
}

func (s *Server) jarviceInfo(c *call) (any, error) {
	if err := c.jarviceAuth(nil); err != nil {
		return nil, err
	}
	j, err := c.jarviceJob()
	if err != nil {
		return nil, err
	}
	status, _ := structs.JarviceStatusOf(j.State)
	return &structs.JarviceJobInfo{Name: j.Name, Number: j.Number, Status: status, Cluster: j.Cluster}, nil
}

func (s *Server) jarviceJobs(c *call) (any, error) {
	if err := c.jarviceAuth(nil); err != nil {
		return nil, err
	}
	all := false
	if v := c.r.URL.Query().Get("completed"); v != "" {
		var err error
		if all, err = strconv.ParseBool(v); err != nil {
			return nil, invalid("completed: want true or false")
		}
	}
	jobs, _, err := s.b.Store().Read().ListJobs(state.JobFilter{Owner: c.id.Username, Active: !all})
	if err != nil {
		return nil, err
	}
	out := make(map[string]structs.JarviceJobStatus, len(jobs))
	for _, j := range jobs {
		out[strconv.FormatUint(j.Number, 10)] = structs.NewJarviceJobStatus(j)
	}
	return out, nil
}

func (s *Server) jarviceShutdown(c *call) (any, error)  { return s.jarviceStop(c, "shutdown") }
func (s *Server) jarviceTerminate(c *call) (any, error) { return s.jarviceStop(c, "terminated") }

func (s *Server) jarviceStop(c *call, verb string) (any, error) {
	if err := c.jarviceAuth(nil); err != nil {
		return nil, err
	}
	j, err := c.jarviceJob()
	if err != nil {
		return nil, err
	}
	j, err = s.stop(c, j.ID, verb, "")
	if err != nil {
		return nil, err
	}
	status, _ := structs.JarviceStatusOf(j.State)
	return &structs.JarviceAction{Status: status}, nil
}

func (s *Server) jarviceApps(c *call) (any, error) {
	if err := c.jarviceAuth(nil); err != nil {
		return nil, err
	}
	all, err := s.b.Store().Read().Apps()
	if err != nil {
		return nil, err
	}
	name := c.r.URL.Query().Get("name")
	out := map[string]structs.JarviceApp{}
	for _, a := range all {
		if (name == "" || a.Name == name) && c.id.CheckUseApp(a) == nil {
			out[a.Name] = structs.JarviceApp{Data: a.AppDef, Public: a.Visibility == structs.VisibilityPublic}
		}
	}
	if name != "" && len(out) == 0 {
		return nil, structs.Errorf(structs.ErrNotFound, "app %q", name)
	}
	return out, nil
}

func (s *Server) jarviceMachines(c *call) (any, error) {
	if err := c.jarviceAuth(nil); err != nil {
		return nil, err
	}
	all, err := s.b.Store().Read().MachineTypes()
	if err != nil {
		return nil, err
	}
	name := c.r.URL.Query().Get("name")
	out := map[string]*structs.MachineType{}
	for _, m := range all {
		if (name == "" || m.Name == name) && c.id.CheckUseMachineType(m) == nil {
			out[m.Name] = m
		}
	}
	if name != "" && len(out) == 0 {
		return nil, structs.Errorf(structs.ErrNotFound, "machine type %q", name)
	}
	return out, nil
}
