package client

import (
	"context"
	"net/http"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// CreateShare creates a share link of running interactive job id and
// returns it with its token and URL: the only time the token is shown.
func (c *Client) CreateShare(ctx context.Context, id string, req *structs.ShareCreateRequest) (*structs.ShareCreated, error) {
	return call[structs.ShareCreated](ctx, c, http.MethodPost, "/v1/jobs/"+esc(id)+"/shares", nil, req)
}

// ListShares lists job id's share links (never their tokens).
func (c *Client) ListShares(ctx context.Context, id string) ([]structs.ShareInfo, error) {
	out, err := call[[]structs.ShareInfo](ctx, c, http.MethodGet, "/v1/jobs/"+esc(id)+"/shares", nil, nil)
	if err != nil {
		return nil, err
	}
	return *out, nil
}

// RevokeShare revokes job id's share link name and returns the links left.
func (c *Client) RevokeShare(ctx context.Context, id, name string) ([]structs.ShareInfo, error) {
	out, err := call[[]structs.ShareInfo](ctx, c, http.MethodDelete, "/v1/jobs/"+esc(id)+"/shares/"+esc(name), nil, nil)
	if err != nil {
		return nil, err
	}
	return *out, nil
}
