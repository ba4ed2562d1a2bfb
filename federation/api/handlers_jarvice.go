package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/authz"
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
	id, err := c.login(key, func() (*authz.Identity, error) {
		if strings.HasPrefix(key, JobKeyPrefix) {
			return c.s.jobKeyIdentity(username, key)
		}
		return c.s.authn.UserKey(username, key)
	})
	if err != nil {
		return err
	}
	c.id = id
	return nil
}

// jarviceJobRequest turns a JARVICE submission into a v1 one.
func jarviceJobRequest(j *structs.JarviceSubmit) (*structs.JobSubmitRequest, error) {
	req := &structs.JobSubmitRequest{App: j.App, Command: j.Application.Command,
		MachineType: j.Machine.Type, Nodes: j.Machine.Nodes, Label: j.JobLabel, Project: j.JobProject,
		Dependency: j.FlotillaDependency, Env: j.FlotillaEnv, Workdir: j.FlotillaWorkdir, Signal: j.FlotillaSignal}
	if req.Nodes == 0 {
		req.Nodes = 1
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
	if a := j.FlotillaArray; a != nil {
		spec := a.Array
		req.Array, req.TaskRetries, req.TaskCPUBind = &spec, a.TaskRetries, a.TaskCPUBind
		if req.TaskWalltime, err = structs.ParseDuration(a.TaskWalltime); err != nil {
			return nil, err
		}
	}
	if j.Container != nil && j.Container.Pullsecret != "" {
		if req.PullSecret, err = jarvicePullSecret(j.Container.Pullsecret); err != nil {
			return nil, err
		}
	}
	if len(j.Application.Parameters) > 0 {
		req.Parameters = make(map[string]string, len(j.Application.Parameters))
		for k, raw := range j.Application.Parameters {
			v, err := parameterText(raw)
			if err != nil {
				return nil, invalid("submit: parameter %q: %v", k, err)
			}
			req.Parameters[k] = v
		}
	}
	return req, nil
}

// parameterText renders a submitted parameter value: a string, number or
// boolean as its text, an object (an UPLOAD's {"data": ...}) as its JSON.
func parameterText(raw json.RawMessage) (string, error) {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '{' {
		var buf bytes.Buffer
		err := json.Compact(&buf, t)
		return buf.String(), err
	}
	return scalarText(raw)
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

// jarviceSubmission decodes and authenticates a submit or batch body.
func (s *Server) jarviceSubmission(c *call) (*structs.JarviceSubmit, *structs.JobSubmitRequest, error) {
	a, err := c.jarviceArgs()
	if err != nil {
		return nil, nil, err
	}
	j, err := decodeJarviceSubmit(bytes.NewReader(a.body))
	if err != nil {
		return nil, nil, err
	}
	if j.User.Username == "" {
		j.User = structs.JarviceUser{Username: a.Get("username"), APIKey: a.Get("apikey")}
	}
	if err := c.jarviceAuth(&j.User); err != nil {
		return nil, nil, err
	}
	req, err := jarviceJobRequest(j)
	return j, req, err
}

// jarviceSubmit is /jarvice/submit: a job of a catalog app.
func (s *Server) jarviceSubmit(c *call) (any, error) {
	_, req, err := s.jarviceSubmission(c)
	if err != nil {
		return nil, err
	}
	if _, err := fresh(c, func(r *state.ReadTxn) (*structs.App, error) { return r.App(req.App) }); err != nil {
		return nil, err // an unknown app is 404
	}
	job, err := s.jobs.SubmitJob(c.r.Context(), c.id, req)
	if err != nil {
		return nil, err
	}
	c.object = job.ID
	return &structs.JarviceSubmitReply{Name: job.Name, Number: job.Number}, nil
}

// jarviceBatch is /jarvice/batch: a container image and a job script.
func (s *Server) jarviceBatch(c *call) (any, error) {
	j, req, err := s.jarviceSubmission(c)
	if err != nil {
		return nil, err
	}
	if j.Container == nil || j.Container.Image == "" || j.Container.Jobscript == "" {
		return nil, invalid("batch: container.image and container.jobscript are required")
	}
	// The v1 submission's path (scriptJob), without sbatch's own checks:
	// a JARVICE script needs no "#!" (it runs with /bin/sh).
	req.Script, req.Image = j.Container.Jobscript, j.Container.Image
	app, err := s.scriptJob(c, req, false)
	if err != nil {
		return nil, err
	}
	job, err := s.jobs.SubmitScriptJob(c.r.Context(), c.id, req, app)
	if err != nil {
		return nil, err
	}
	c.object = job.ID
	return &structs.JarviceSubmitReply{Name: job.Name, Number: job.Number}, nil
}

// jarviceValidate is /jarvice/validate: the AppDef in the body checked by
// the validator every entry point uses; {"valid": true} or 400 listing
// every error with its path. It needs no credentials.
func (s *Server) jarviceValidate(c *call) (any, error) {
	a, err := c.jarviceArgs()
	if err != nil {
		return nil, err
	}
	_, res := appdef.Parse(a.body)
	if err := res.Err(); err != nil {
		return nil, err
	}
	return map[string]any{"valid": true, "warnings": res.Warnings()}, nil
}

// jarvicePullSecret decodes container.pullsecret: as JARVICE sends it,
// the base64 of a docker config JSON (the document itself is accepted
// too). The job's pods pull its image with it. Errors never quote it.
func jarvicePullSecret(v string) (string, error) {
	doc := strings.TrimSpace(v)
	if !strings.HasPrefix(doc, "{") {
		b, err := base64.StdEncoding.DecodeString(doc)
		if err != nil {
			if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(doc, "=")); err != nil {
				return "", invalid("submit: container.pullsecret: not base64 of a docker config JSON")
			}
		}
		doc = string(b)
	}
	if _, err := structs.PullSecretRegistries("container.pullsecret", doc); err != nil {
		return "", err
	}
	return doc, nil
}
