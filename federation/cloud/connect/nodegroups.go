package connect

import (
	"context"
	"fmt"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// NodeGroups are one cluster's node groups as the agent's elastic loop
// sees them (clusteragent/agent.NodeGroups): their size, and resizing.
type NodeGroups struct {
	r    cloud.Resizer
	spec *cloud.Spec
	// Status, if set, is told the cloud's status while a resize waits.
	Status func(group, status string)
}

// Size is the group's size as last asked of the cloud, or -1 when the
// cloud does not say.
func (n *NodeGroups) Size(ctx context.Context, group string) (int, error) {
	s, err := n.r.GroupSize(ctx, n.spec, group)
	return s.Size, err
}

// Resize asks the cloud for size nodes in the group and waits until done.
func (n *NodeGroups) Resize(ctx context.Context, group string, size int) error {
	return n.r.Resize(ctx, n.spec, group, size, func(s string) {
		if n.Status != nil {
			n.Status(group, s)
		}
	})
}

// OpenNodeGroups connects to the node groups of cluster (its name in the
// cloud; project is GKE's) with the default credentials.
func OpenNodeGroups(ctx context.Context, o Options, cluster, project string) (*NodeGroups, func(), error) {
	p, closeP, err := Provider(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	r, ok := p.(cloud.Resizer)
	if !ok {
		closeP()
		return nil, nil, fmt.Errorf("provider %s cannot resize node groups", o.Provider)
	}
	spec := &cloud.Spec{Provider: o.Provider, Name: cluster, Region: o.Region, Project: project}
	if o.Provider == structs.CloudGKE && project == "" {
		closeP()
		return nil, nil, fmt.Errorf("gke node groups need a project")
	}
	return &NodeGroups{r: r, spec: spec}, closeP, nil
}
