package cloud

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/client-go/rest"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Provider is one managed-Kubernetes service. Every method that waits
// reports the cloud's own operation status through status as it changes
// ("CREATING", "RUNNING") and returns when ctx ends.
type Provider interface {
	// Steps returns the cloud's steps for spec, in dependency order.
	Steps(spec *Spec) []Step
	// Create carries out a cloud step and waits until what it made is
	// ready; it returns the resource's ID (a name or an ARN). A resource
	// that already exists as this step would make it is taken as made.
	// When the resource was made but then failed (a node group that
	// failed to create), Create returns its ID with the error, so that
	// down removes it.
	Create(ctx context.Context, spec *Spec, step Step, status func(string)) (string, error)
	// Delete removes a resource a step made and waits until it is gone;
	// a resource already gone is not an error.
	Delete(ctx context.Context, spec *Spec, res structs.CloudResource, status func(string)) error
	// Access returns an admin client configuration of the cluster's API
	// server: its endpoint and CA, and a short-lived token made from the
	// cloud credentials (no cloud CLI is run).
	Access(ctx context.Context, spec *Spec) (*rest.Config, error)
}

// Step kinds: what a step makes, and how down removes it.
const (
	KindIAMRole   = "iam-role"
	KindCluster   = "cluster"
	KindNodeGroup = "node-group"
	KindNodePool  = "node-pool"
	// KindAgentIdentity binds the agent's ServiceAccount to a cloud
	// identity that may resize its node groups (EKS Pod Identity).
	KindAgentIdentity = "agent-identity"
	// KindAddon is a managed add-on of the cluster (EKS's Pod Identity
	// Agent); the step's Role names it.
	KindAddon  = "addon"
	KindAccess = "kubeconfig" // nothing to remove
	KindHub    = "hub"        // the cluster and machine types at the hub
	KindAgent  = "agent"      // the agent in the new cluster
)

// Step is one thing `up` does.
type Step struct {
	ID    string   // unique in the plan, e.g. "nodegroup/gpu"
	Kind  string   // one of the Kind constants
	Title string   // what the progress line says, e.g. "node group mt-gpu (p4d.24xlarge × 2)"
	Needs []string // ids of the steps that must be done first
	// Group is the node group or pool of a node group step.
	Group *NodeGroup
	// Role names the IAM role of an IAM role step ("cluster", "node"),
	// or the add-on of an add-on step.
	Role string
}

// Error is a failure the cloud reported: its own error code and message.
// Its text is one sentence a user can act on.
type Error struct {
	Op      string // what was being done: "creating node group mt-gpu"
	Code    string // the cloud's error code: AccessDeniedException, QUOTA_EXCEEDED
	Message string // the cloud's message
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s failed: %s (%s)", e.Op, e.Message, e.Code)
}

// ErrorCode returns the cloud's error code of err, if it carries one.
func ErrorCode(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}
