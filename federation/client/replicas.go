package client

import (
	"context"
	"net/url"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Hub replicas (global administrators only).

// ListReplicas returns the hub's replicas: id, raft and API addresses,
// suffrage and which one leads. With consistent, the answering replica
// first catches up with the leader (it needs one); without, it answers
// from its own view, e.g. to inspect a replica cut off from the others.
func (c *Client) ListReplicas(ctx context.Context, consistent bool) ([]*structs.ReplicaStatus, error) {
	var q url.Values
	if consistent {
		q = url.Values{"consistent": {"true"}}
	}
	return list[*structs.ReplicaStatus](ctx, c, "/v1/replicas", q)
}

// RemoveReplica removes a replica from the hub cluster (its raft
// configuration and replica directory). Removing the last voter is
// refused (structs.ErrConflict); an unknown id is structs.ErrNotFound.
func (c *Client) RemoveReplica(ctx context.Context, id string) error {
	return c.del(ctx, "/v1/replicas/"+esc(id))
}
