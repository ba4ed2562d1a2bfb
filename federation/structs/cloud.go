package structs

import (
	"slices"
	"time"
)

// CloudProvider names a managed-Kubernetes service `flotilla cloud` drives.
type CloudProvider string

// Cloud providers.
const (
	CloudEKS CloudProvider = "eks"
	CloudGKE CloudProvider = "gke"
)

// CloudDeployment records what `flotilla cloud up` created for one
// cluster, in creation order, so that a second run resumes where the
// first stopped and `flotilla cloud down` removes exactly that, in
// reverse order. Its name is the cluster's name at the hub.
type CloudDeployment struct {
	RaftIndex
	Name     string        `json:"name"`
	Provider CloudProvider `json:"provider"`
	Region   string        `json:"region"`
	// Project is the GKE project (empty for EKS).
	Project string `json:"project,omitempty"`
	// Resources are the steps carried out so far, in the order they were.
	Resources []CloudResource `json:"resources,omitempty"`
}

// CloudResource is one thing a cloud step made: a cloud resource (an IAM
// role, the cluster, a node group) or a step at the hub or in the new
// cluster (the agent, the registration).
type CloudResource struct {
	// Step is the plan step's id, e.g. "nodegroup/gpu".
	Step string `json:"step"`
	// Kind says how to remove it, e.g. "iam-role", "cluster", "node-group".
	Kind string `json:"kind"`
	// ID is the cloud's name or ARN of the resource.
	ID      string    `json:"id"`
	Created time.Time `json:"created,omitzero"`
	// Failed marks a resource that was made but failed (a node group
	// whose instances could not start): down removes it, and up removes
	// it before making it again.
	Failed bool `json:"failed,omitempty"`
}

// Copy returns a deep copy of d.
func (d *CloudDeployment) Copy() *CloudDeployment {
	if d == nil {
		return nil
	}
	n := *d
	n.Resources = slices.Clone(d.Resources)
	return &n
}

// Validate checks the fields a writer must supply.
func (d *CloudDeployment) Validate() error {
	if err := validName("cloud deployment", d.Name); err != nil {
		return err
	}
	switch d.Provider {
	case CloudEKS, CloudGKE:
	default:
		return invalidf("cloud deployment %q: provider %q: want eks or gke", d.Name, d.Provider)
	}
	if d.Region == "" {
		return invalidf("cloud deployment %q: region: empty", d.Name)
	}
	seen := map[string]bool{}
	for _, r := range d.Resources {
		if r.Step == "" || r.Kind == "" {
			return invalidf("cloud deployment %q: a resource without step or kind", d.Name)
		}
		if seen[r.Step] {
			return invalidf("cloud deployment %q: step %q twice", d.Name, r.Step)
		}
		seen[r.Step] = true
	}
	return nil
}

// Done reports whether the step was carried out (and did not fail).
func (d *CloudDeployment) Done(step string) bool {
	return slices.ContainsFunc(d.Resources, func(r CloudResource) bool { return r.Step == step && !r.Failed })
}

// FailedResource returns the index of the step's failed resource, or -1.
func (d *CloudDeployment) FailedResource(step string) int {
	return slices.IndexFunc(d.Resources, func(r CloudResource) bool { return r.Step == step && r.Failed })
}
