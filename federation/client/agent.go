package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// AssignmentQuery selects a page of a cluster's assignments. Zero fields
// are not sent.
type AssignmentQuery struct {
	// Index 0 asks for the full listing of the jobs active on the cluster;
	// a later index watches: the call blocks up to Wait until a job of the
	// cluster or the catalog changes past Index.
	Index uint64
	Wait  time.Duration
	// After and Limit page by job number (the hub's default limit is 1000).
	After uint64
	Limit int
}

// Assignments returns a page of a cluster's self-contained assignments
// (see structs.AssignmentList). Agents call it with their agent key.
func (c *Client) Assignments(ctx context.Context, cluster string, q AssignmentQuery) (*structs.AssignmentList, error) {
	v := url.Values{"index": {strconv.FormatUint(q.Index, 10)}}
	if q.Wait > 0 {
		v.Set("wait", q.Wait.String())
	}
	if q.After > 0 {
		v.Set("after", strconv.FormatUint(q.After, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return call[structs.AssignmentList](ctx, c, http.MethodGet, "/v1/clusters/"+esc(cluster)+"/assignments", v, nil)
}

// AgentCatalog reads the apps a cluster's agent keeps on its nodes;
// index > 0 waits up to wait for a change after index.
func (c *Client) AgentCatalog(ctx context.Context, cluster string, index uint64, wait time.Duration) (*structs.AgentCatalog, error) {
	v := url.Values{"index": {strconv.FormatUint(index, 10)}}
	if wait > 0 {
		v.Set("wait", wait.String())
	}
	return call[structs.AgentCatalog](ctx, c, http.MethodGet, "/v1/clusters/"+esc(cluster)+"/catalog", v, nil)
}

// PushStatus reports a cluster's status, capacity and job progress; the
// result has one outcome per job report, in order.
func (c *Client) PushStatus(ctx context.Context, cluster string, rep *structs.ClusterStatusReport) (*structs.ClusterStatusResult, error) {
	return callKeyed[structs.ClusterStatusResult](ctx, c, "/v1/clusters/"+esc(cluster)+"/status", rep)
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

// Register exchanges a cluster's bootstrap token for an agent key the hub
// makes; the client needs no credentials for it. The call is not retried
// once sent: if its reply is lost, so is the key, and the token is spent.
// Agents use RegisterKey.
func (c *Client) Register(ctx context.Context, cluster, token string) (*structs.APIKeyCreated, error) {
	return call[structs.APIKeyCreated](ctx, c, http.MethodPost, "/v1/clusters/"+esc(cluster)+"/register", nil,
		&structs.RegisterRequest{Token: token})
}

// RegisterKey registers agentKey, a key the agent made
// (structs.NewKey(structs.AgentKeyPrefix, now)), as the cluster's agent
// key with its bootstrap token. The token and the key are the call's
// idempotency key: it is retried, on another replica too, after a
// failure that leaves its outcome unknown, and the hub accepts the same
// key again once the token is spent on it.
func (c *Client) RegisterKey(ctx context.Context, cluster, token, agentKey string) (*structs.APIKeyCreated, error) {
	return callKeyed[structs.APIKeyCreated](ctx, c, "/v1/clusters/"+esc(cluster)+"/register",
		&structs.RegisterRequest{Token: token, AgentKey: agentKey})
}
