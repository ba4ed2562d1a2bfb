package gke

import (
	"context"
	"fmt"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
)

var _ cloud.Resizer = (*Provider)(nil)

// GroupSize reads a node pool's limits. GKE's NodePool does not carry its
// current size (its instance groups do), so Size is -1: the agent counts
// the pool's nodes.
func (p *Provider) GroupSize(ctx context.Context, spec *cloud.Spec, group string) (cloud.GroupSize, error) {
	got, err := p.cm.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: clusterPath(spec) + "/nodePools/" + group})
	if err != nil {
		return cloud.GroupSize{}, cloudError("reading node pool "+group, err)
	}
	a := got.GetAutoscaling()
	return cloud.GroupSize{Size: -1, Min: int(a.GetMinNodeCount()), Max: int(a.GetMaxNodeCount())}, nil
}

// Resize sets the node pool's size (SetNodePoolSize) and waits until the
// pool is RUNNING again.
func (p *Provider) Resize(ctx context.Context, spec *cloud.Spec, group string, size int, st func(string)) error {
	op := fmt.Sprintf("resizing node pool %s to %d", group, size)
	path := clusterPath(spec) + "/nodePools/" + group
	if _, err := p.cm.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: path, NodeCount: int32(size)}); err != nil {
		return cloudError(op, err)
	}
	return p.poll(ctx, func() (bool, error) {
		got, err := p.cm.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: path})
		if err != nil {
			return false, cloudError(op, err)
		}
		st(got.Status.String())
		switch got.Status {
		case containerpb.NodePool_RUNNING:
			return true, nil
		case containerpb.NodePool_ERROR, containerpb.NodePool_RUNNING_WITH_ERROR:
			return false, &cloud.Error{Op: op, Code: got.Status.String(), Message: got.StatusMessage}
		}
		return false, nil
	})
}
