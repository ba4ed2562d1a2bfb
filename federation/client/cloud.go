package client

import (
	"context"
	"net/http"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Cloud deployments: what `flotilla cloud up` created, per cluster.

// ListCloudDeployments returns every cloud deployment record.
func (c *Client) ListCloudDeployments(ctx context.Context) ([]*structs.CloudDeployment, error) {
	return list[*structs.CloudDeployment](ctx, c, "/v1/cloud", nil)
}

// GetCloudDeployment returns the record of a cloud cluster.
func (c *Client) GetCloudDeployment(ctx context.Context, name string) (*structs.CloudDeployment, error) {
	return call[structs.CloudDeployment](ctx, c, http.MethodGet, "/v1/cloud/"+esc(name), nil, nil)
}

// PutCloudDeployment creates or replaces the record of a cloud cluster.
func (c *Client) PutCloudDeployment(ctx context.Context, d *structs.CloudDeployment, opts ...WriteOption) (*structs.CloudDeployment, error) {
	return call[structs.CloudDeployment](ctx, c, http.MethodPut, "/v1/cloud/"+esc(d.Name), writeQuery(opts), d)
}

// DeleteCloudDeployment deletes the record of a cloud cluster.
func (c *Client) DeleteCloudDeployment(ctx context.Context, name string, opts ...WriteOption) error {
	return c.del(ctx, "/v1/cloud/"+esc(name), opts...)
}
