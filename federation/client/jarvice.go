package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// JARVICE-compatible calls authenticate with the username and API key they
// are given (in the submission's user object or the query), not with the
// client's key.

// JarviceSubmit submits a job through /jarvice/submit.
func (c *Client) JarviceSubmit(ctx context.Context, req *structs.JarviceSubmit) (*structs.JarviceSubmitReply, error) {
	return call[structs.JarviceSubmitReply](ctx, c, http.MethodPost, "/jarvice/submit", nil, req)
}

// JarviceBatch submits a container image and job script through
// /jarvice/batch (req.Container; its pullsecret is the base64 of a docker
// config JSON).
func (c *Client) JarviceBatch(ctx context.Context, req *structs.JarviceSubmit) (*structs.JarviceSubmitReply, error) {
	return call[structs.JarviceSubmitReply](ctx, c, http.MethodPost, "/jarvice/batch", nil, req)
}

// JarviceJobRef names a job for the JARVICE calls: by Number, else by Name.
type JarviceJobRef struct {
	Number uint64
	Name   string
}

func jarviceQuery(username, apikey string, ref *JarviceJobRef) url.Values {
	q := url.Values{"username": {username}, "apikey": {apikey}}
	if ref != nil {
		if ref.Number > 0 {
			q.Set("number", strconv.FormatUint(ref.Number, 10))
		} else {
			q.Set("name", ref.Name)
		}
	}
	return q
}

// JarviceStatus returns a job's status, keyed by its number.
func (c *Client) JarviceStatus(ctx context.Context, username, apikey string, ref JarviceJobRef) (map[string]structs.JarviceJobStatus, error) {
	out, err := call[map[string]structs.JarviceJobStatus](ctx, c, http.MethodGet, "/jarvice/status",
		jarviceQuery(username, apikey, &ref), nil)
	if err != nil {
		return nil, err
	}
	return *out, nil
}

// JarviceInfo returns a job's connection details.
func (c *Client) JarviceInfo(ctx context.Context, username, apikey string, ref JarviceJobRef) (*structs.JarviceJobInfo, error) {
	return call[structs.JarviceJobInfo](ctx, c, http.MethodGet, "/jarvice/info", jarviceQuery(username, apikey, &ref), nil)
}

// JarviceJobs returns the user's jobs keyed by number: active ones, or all
// with completed.
func (c *Client) JarviceJobs(ctx context.Context, username, apikey string, completed bool) (map[string]structs.JarviceJobStatus, error) {
	q := jarviceQuery(username, apikey, nil)
	if completed {
		q.Set("completed", "true")
	}
	out, err := call[map[string]structs.JarviceJobStatus](ctx, c, http.MethodGet, "/jarvice/jobs", q, nil)
	if err != nil {
		return nil, err
	}
	return *out, nil
}

// JarviceShutdown asks a job to stop.
func (c *Client) JarviceShutdown(ctx context.Context, username, apikey string, ref JarviceJobRef) (*structs.JarviceAction, error) {
	return call[structs.JarviceAction](ctx, c, http.MethodGet, "/jarvice/shutdown", jarviceQuery(username, apikey, &ref), nil)
}

// JarviceTerminate stops a job at once.
func (c *Client) JarviceTerminate(ctx context.Context, username, apikey string, ref JarviceJobRef) (*structs.JarviceAction, error) {
	return call[structs.JarviceAction](ctx, c, http.MethodGet, "/jarvice/terminate", jarviceQuery(username, apikey, &ref), nil)
}

// JarviceApps returns the apps the user may run, keyed by name (one app
// when name is set).
func (c *Client) JarviceApps(ctx context.Context, username, apikey, name string) (map[string]structs.JarviceApp, error) {
	q := jarviceQuery(username, apikey, nil)
	if name != "" {
		q.Set("name", name)
	}
	out, err := call[map[string]structs.JarviceApp](ctx, c, http.MethodGet, "/jarvice/apps", q, nil)
	if err != nil {
		return nil, err
	}
	return *out, nil
}

// JarviceMachines returns the machine types the user may use, keyed by
// name (one when name is set).
func (c *Client) JarviceMachines(ctx context.Context, username, apikey, name string) (map[string]*structs.MachineType, error) {
	q := jarviceQuery(username, apikey, nil)
	if name != "" {
		q.Set("name", name)
	}
	out, err := call[map[string]*structs.MachineType](ctx, c, http.MethodGet, "/jarvice/machines", q, nil)
	if err != nil {
		return nil, err
	}
	return *out, nil
}
