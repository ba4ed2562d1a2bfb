package cloud

import "context"

// GroupSize is a node group's (or node pool's) size as the cloud reports
// it. Size is -1 when the cloud's node group API does not say (GKE keeps
// the current size in its instance groups): the caller counts the
// group's nodes instead.
type GroupSize struct {
	Size, Min, Max int
}

// Resizer is a provider whose node groups an agent resizes on demand
// (elastic node groups): EKS's UpdateNodegroupConfig, GKE's
// SetNodePoolSize. Both wait until the cloud reports the change done.
type Resizer interface {
	// GroupSize describes the node group of the spec's cluster.
	GroupSize(ctx context.Context, spec *Spec, group string) (GroupSize, error)
	// Resize asks the cloud for size nodes in the group and waits until
	// the group is active again; status gets the cloud's status.
	Resize(ctx context.Context, spec *Spec, group string, size int, status func(string)) error
}
