package eks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Options tune the provider.
type Options struct {
	// Subnets are the VPC subnets of the cluster and its node groups
	// (required: EKS makes no network).
	Subnets []string
	// Endpoint, when set, is the base URL of the EKS, IAM and STS APIs
	// (a private endpoint or a test server); empty uses AWS's.
	Endpoint string
	// PollInterval is how often a wait asks for the status (default 15 s).
	PollInterval time.Duration
}

// Provider creates EKS clusters with the AWS credentials of cfg.
type Provider struct {
	eks  *awseks.Client
	iam  *iam.Client
	sts  *sts.Client
	opts Options
}

// New returns the provider for the AWS configuration (region and
// credentials, e.g. from config.LoadDefaultConfig).
func New(cfg aws.Config, opts Options) *Provider {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 15 * time.Second
	}
	var base *string
	if opts.Endpoint != "" {
		base = aws.String(opts.Endpoint)
	}
	return &Provider{
		eks:  awseks.NewFromConfig(cfg, func(o *awseks.Options) { o.BaseEndpoint = base }),
		iam:  iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = base }),
		sts:  sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = base }),
		opts: opts,
	}
}

var _ cloud.Provider = (*Provider)(nil)

// Role names: one pair per cluster.
func roleName(cluster, role string) string { return "flotilla-" + cluster + "-" + role }

// Steps are the IAM roles, the cluster and a node group per machine type;
// with elastic machine types also the agent's role, the Pod Identity
// add-on and the agent's association (down removes them newest first:
// the association, the add-on, ..., the cluster).
func (p *Provider) Steps(spec *cloud.Spec) []cloud.Step {
	steps := []cloud.Step{
		{ID: "iam/cluster", Kind: cloud.KindIAMRole, Role: "cluster", Title: "IAM role " + roleName(spec.Name, "cluster")},
		{ID: "iam/node", Kind: cloud.KindIAMRole, Role: "node", Title: "IAM role " + roleName(spec.Name, "node")},
	}
	elastic := false
	for _, g := range spec.NodeGroups() {
		elastic = elastic || g.Elastic
	}
	if elastic {
		steps = append(steps, cloud.Step{ID: "iam/agent", Kind: cloud.KindIAMRole, Role: "agent", Title: "IAM role " + roleName(spec.Name, "agent")})
	}
	steps = append(steps, cloud.Step{ID: "cluster", Kind: cloud.KindCluster, Title: "EKS cluster " + spec.Name, Needs: []string{"iam/cluster"}})
	for _, g := range spec.NodeGroups() {
		steps = append(steps, cloud.Step{ID: "nodegroup/" + g.MachineType, Kind: cloud.KindNodeGroup, Group: &g,
			Title: fmt.Sprintf("node group %s (%s × %d)", g.Name, g.InstanceType, g.Nodes), Needs: []string{"cluster", "iam/node"}})
	}
	if elastic {
		steps = append(steps, cloud.Step{ID: "addon/" + PodIdentityAddon, Kind: cloud.KindAddon, Role: PodIdentityAddon,
			Needs: []string{"cluster"}, Title: "EKS add-on " + PodIdentityAddon})
		steps = append(steps, cloud.Step{ID: "agent-identity", Kind: cloud.KindAgentIdentity, Needs: []string{"cluster", "iam/agent", "addon/" + PodIdentityAddon},
			Title: "pod identity of the agent (" + cloud.AgentNamespace + "/" + cloud.AgentName + " → IAM role " + roleName(spec.Name, "agent") + ")"})
	}
	return steps
}

// Create carries out one step.
func (p *Provider) Create(ctx context.Context, spec *cloud.Spec, step cloud.Step, status func(string)) (string, error) {
	switch step.Kind {
	case cloud.KindIAMRole:
		return p.createRole(ctx, spec, step.Role)
	case cloud.KindCluster:
		return p.createCluster(ctx, spec, status)
	case cloud.KindNodeGroup:
		return p.createNodeGroup(ctx, spec, step.Group, status)
	case cloud.KindAddon:
		return p.createAddon(ctx, spec, step.Role, status)
	case cloud.KindAgentIdentity:
		return p.createAgentIdentity(ctx, spec)
	}
	return "", fmt.Errorf("eks: unknown step kind %q", step.Kind)
}

// Delete removes one resource.
func (p *Provider) Delete(ctx context.Context, spec *cloud.Spec, res structs.CloudResource, status func(string)) error {
	switch res.Kind {
	case cloud.KindIAMRole:
		return p.deleteRole(ctx, res.ID)
	case cloud.KindCluster:
		return p.deleteCluster(ctx, spec.Name, status)
	case cloud.KindNodeGroup:
		return p.deleteNodeGroup(ctx, spec.Name, res.ID, status)
	case cloud.KindAddon:
		return p.deleteAddon(ctx, spec.Name, res.ID, status)
	case cloud.KindAgentIdentity:
		return p.deleteAgentIdentity(ctx, spec.Name, res.ID)
	}
	return fmt.Errorf("eks: unknown resource kind %q", res.Kind)
}

// cloudError turns an AWS API error into the engine's: the service's
// error code and message, and what was being done.
func cloudError(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return &cloud.Error{Op: op, Code: ae.ErrorCode(), Message: ae.ErrorMessage()}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isNotFound reports whether err says the resource does not exist.
func isNotFound(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ResourceNotFoundException", "NoSuchEntity", "NoSuchEntityException":
		return true
	}
	return false
}

// poll calls check every interval until it says done, or ctx ends.
func (p *Provider) poll(ctx context.Context, check func() (bool, error)) error {
	t := time.NewTicker(p.opts.PollInterval)
	defer t.Stop()
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
