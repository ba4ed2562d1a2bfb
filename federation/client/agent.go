package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Assignments returns the jobs assigned to cluster that changed after
// index, blocking up to wait for one to change (index 0 returns them all at
// once). Pass the reply's Index next time. Agents call it with their agent
// key.
func (c *Client) Assignments(ctx context.Context, cluster string, index uint64, wait time.Duration) (*structs.AssignmentList, error) {
	q := url.Values{"index": {strconv.FormatUint(index, 10)}}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	return call[structs.AssignmentList](ctx, c, http.MethodGet, "/v1/clusters/"+esc(cluster)+"/assignments", q, nil)
}

// PushStatus reports a cluster's status, capacity and job progress.
func (c *Client) PushStatus(ctx context.Context, cluster string, rep *structs.ClusterStatusReport) (*structs.ClusterStatusResult, error) {
	return call[structs.ClusterStatusResult](ctx, c, http.MethodPost, "/v1/clusters/"+esc(cluster)+"/status", nil, rep)
}

// Healthz checks that the replica answering is up.
func (c *Client) Healthz(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/healthz"})
	return err
}

// Ready returns the raft id of the leader known to the replica answering.
func (c *Client) Ready(ctx context.Context) (string, error) {
	var out map[string]string
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/readyz", out: &out}); err != nil {
		return "", err
	}
	return out["leader"], nil
}

// WhoAmI describes the caller the client's credentials authenticate.
func (c *Client) WhoAmI(ctx context.Context) (*structs.CallerInfo, error) {
	return call[structs.CallerInfo](ctx, c, http.MethodGet, "/v1/whoami", nil, nil)
}

// CreateBootstrapToken issues a one-time token with which the cluster's
// agent registers (administrators only); the token is shown only here.
func (c *Client) CreateBootstrapToken(ctx context.Context, cluster string) (*structs.APIKeyCreated, error) {
	return call[structs.APIKeyCreated](ctx, c, http.MethodPost, "/v1/clusters/"+esc(cluster)+"/bootstraptoken", nil, nil)
}

// Register exchanges a cluster's bootstrap token for its agent key; the
// client needs no credentials for it.
func (c *Client) Register(ctx context.Context, cluster, token string) (*structs.APIKeyCreated, error) {
	return call[structs.APIKeyCreated](ctx, c, http.MethodPost, "/v1/clusters/"+esc(cluster)+"/register", nil,
		&structs.RegisterRequest{Token: token})
}
