package gke

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"golang.org/x/oauth2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/rest"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Options tune the provider.
type Options struct {
	// PollInterval is how often a wait asks for the status (default 10 s).
	PollInterval time.Duration
	// SystemMachineType is the machine type of the cluster's system pool,
	// where the agent runs (default e2-standard-4).
	SystemMachineType string
	// IAMURL and ResourceManagerURL are the base URLs of Google's IAM
	// and Resource Manager REST APIs (default Google's public ones; a
	// private endpoint or a test server).
	IAMURL, ResourceManagerURL string
	// HTTPClient sends the REST calls (default: one that adds the
	// credentials' access token).
	HTTPClient *http.Client
}

// Provider creates GKE clusters through a ClusterManager client; tokens
// for the new cluster's API server come from tokens.
type Provider struct {
	cm     *container.ClusterManagerClient
	tokens oauth2.TokenSource
	opts   Options
	http   *http.Client
}

// New returns the provider. cm is built by the caller (with the default
// credentials, or a private endpoint); tokens is the same credentials'
// token source (google.FindDefaultCredentials).
func New(cm *container.ClusterManagerClient, tokens oauth2.TokenSource, opts Options) *Provider {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 10 * time.Second
	}
	if opts.SystemMachineType == "" {
		opts.SystemMachineType = "e2-standard-4"
	}
	if opts.IAMURL == "" {
		opts.IAMURL = DefaultIAMURL
	}
	if opts.ResourceManagerURL == "" {
		opts.ResourceManagerURL = DefaultResourceManagerURL
	}
	opts.IAMURL, opts.ResourceManagerURL = strings.TrimSuffix(opts.IAMURL, "/"), strings.TrimSuffix(opts.ResourceManagerURL, "/")
	return &Provider{cm: cm, tokens: tokens, opts: opts}
}

var _ cloud.Provider = (*Provider)(nil)

func location(spec *cloud.Spec) string {
	return "projects/" + spec.Project + "/locations/" + spec.Region
}
func clusterPath(spec *cloud.Spec) string { return location(spec) + "/clusters/" + spec.Name }

// Steps are the cluster (with Workload Identity) and a node pool per
// machine type; with elastic machine types also the agent's custom role,
// made first (a caller who may not make roles learns it before the
// cluster is made), and its grant to the agent's Kubernetes
// ServiceAccount, made last (down removes them newest first: the grant,
// the pools, the cluster, the role).
func (p *Provider) Steps(spec *cloud.Spec) []cloud.Step {
	var steps []cloud.Step
	elastic := false
	for _, g := range spec.NodeGroups() {
		elastic = elastic || g.Elastic
	}
	if elastic {
		steps = append(steps, cloud.Step{ID: "iam/agent", Kind: cloud.KindIAMRole, Role: "agent",
			Title: "IAM role " + AgentRole(spec.Project, spec.Name) + " (" + strings.Join(AgentPermissions, ", ") + ")"})
	}
	steps = append(steps, cloud.Step{ID: "cluster", Kind: cloud.KindCluster, Title: "GKE cluster " + spec.Name})
	for _, g := range spec.NodeGroups() {
		it := g.InstanceType
		if g.Accelerator != "" {
			it += fmt.Sprintf(" + %d × %s", g.GPUs, g.Accelerator)
		}
		steps = append(steps, cloud.Step{ID: "nodepool/" + g.MachineType, Kind: cloud.KindNodePool, Group: &g,
			Title: fmt.Sprintf("node pool %s (%s × %d)", g.Name, it, g.Nodes), Needs: []string{"cluster"}})
	}
	if elastic {
		steps = append(steps, cloud.Step{ID: "agent-identity", Kind: cloud.KindAgentIdentity, Needs: []string{"cluster", "iam/agent"},
			Title: "workload identity of the agent (" + cloud.AgentNamespace + "/" + cloud.AgentName + " → IAM role " + AgentRoleID(spec.Name) + ")"})
	}
	return steps
}

// Create carries out one step.
func (p *Provider) Create(ctx context.Context, spec *cloud.Spec, step cloud.Step, status func(string)) (string, error) {
	switch step.Kind {
	case cloud.KindCluster:
		return p.createCluster(ctx, spec, status)
	case cloud.KindNodePool:
		return p.createPool(ctx, spec, step.Group, status)
	case cloud.KindIAMRole:
		return p.createAgentRole(ctx, spec, status)
	case cloud.KindAgentIdentity:
		return p.createAgentBinding(ctx, spec, status)
	}
	return "", fmt.Errorf("gke: unknown step kind %q", step.Kind)
}

// Delete removes one resource.
func (p *Provider) Delete(ctx context.Context, spec *cloud.Spec, res structs.CloudResource, status func(string)) error {
	switch res.Kind {
	case cloud.KindCluster:
		return p.deleteCluster(ctx, spec, status)
	case cloud.KindNodePool:
		return p.deletePool(ctx, spec, res.ID, status)
	case cloud.KindIAMRole:
		return p.deleteAgentRole(ctx, res.ID)
	case cloud.KindAgentIdentity:
		return p.deleteAgentBinding(ctx, spec, res.ID, status)
	}
	return fmt.Errorf("gke: unknown resource kind %q", res.Kind)
}

func (p *Provider) createCluster(ctx context.Context, spec *cloud.Spec, st func(string)) (string, error) {
	op := "creating GKE cluster " + spec.Name
	// Workload Identity: the cluster's Kubernetes ServiceAccounts are
	// principals of the project's pool, and pods reach Google's APIs as
	// them through the GKE metadata server (never as the nodes' account).
	c := &containerpb.Cluster{Name: spec.Name, InitialClusterVersion: spec.KubernetesVersion,
		ResourceLabels:         map[string]string{"flotilla-cluster": spec.Name},
		WorkloadIdentityConfig: &containerpb.WorkloadIdentityConfig{WorkloadPool: WorkloadPool(spec.Project)},
		NodePools: []*containerpb.NodePool{{Name: "system", InitialNodeCount: 1,
			Config: &containerpb.NodeConfig{MachineType: p.opts.SystemMachineType, Labels: map[string]string{"flotilla.io/role": "system"},
				WorkloadMetadataConfig: gkeMetadata()}}}}
	_, err := p.cm.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: location(spec), Cluster: c})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return "", cloudError(op, err)
	}
	if err != nil {
		got, gerr := p.cm.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterPath(spec)})
		if gerr != nil || got.ResourceLabels["flotilla-cluster"] != spec.Name {
			return "", cloudError(op, err)
		}
	}
	return spec.Name, p.poll(ctx, func() (bool, error) {
		got, err := p.cm.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterPath(spec)})
		if err != nil {
			return false, cloudError("waiting for GKE cluster "+spec.Name, err)
		}
		st(got.Status.String())
		switch got.Status {
		case containerpb.Cluster_RUNNING:
			return true, nil
		case containerpb.Cluster_ERROR, containerpb.Cluster_DEGRADED:
			return false, &cloud.Error{Op: op, Code: got.Status.String(), Message: got.StatusMessage}
		}
		return false, nil
	})
}

// gkeMetadata is the node metadata mode of Workload Identity.
func gkeMetadata() *containerpb.WorkloadMetadataConfig {
	return &containerpb.WorkloadMetadataConfig{Mode: containerpb.WorkloadMetadataConfig_GKE_METADATA}
}

func (p *Provider) deleteCluster(ctx context.Context, spec *cloud.Spec, st func(string)) error {
	op := "deleting GKE cluster " + spec.Name
	if _, err := p.cm.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: clusterPath(spec)}); err != nil && status.Code(err) != codes.NotFound {
		return cloudError(op, err)
	}
	return p.poll(ctx, func() (bool, error) {
		got, err := p.cm.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterPath(spec)})
		if status.Code(err) == codes.NotFound {
			return true, nil
		}
		if err != nil {
			return false, cloudError(op, err)
		}
		st(got.Status.String())
		return false, nil
	})
}

func (p *Provider) createPool(ctx context.Context, spec *cloud.Spec, g *cloud.NodeGroup, st func(string)) (string, error) {
	op := fmt.Sprintf("creating node pool %s (%s)", g.Name, g.InstanceType)
	cfg := &containerpb.NodeConfig{MachineType: g.InstanceType, Labels: g.Labels, DiskSizeGb: int32(g.DiskGB),
		WorkloadMetadataConfig: gkeMetadata()}
	for _, t := range g.Taints {
		cfg.Taints = append(cfg.Taints, &containerpb.NodeTaint{Key: t.Key, Value: t.Value, Effect: containerpb.NodeTaint_NO_SCHEDULE})
	}
	if g.Accelerator != "" {
		cfg.Accelerators = []*containerpb.AcceleratorConfig{{AcceleratorCount: int64(g.GPUs), AcceleratorType: g.Accelerator}}
	}
	pool := &containerpb.NodePool{Name: g.Name, InitialNodeCount: int32(g.Nodes), Config: cfg,
		Autoscaling: &containerpb.NodePoolAutoscaling{MinNodeCount: int32(g.MinNodes), MaxNodeCount: int32(g.MaxNodes)}}
	_, err := p.cm.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: clusterPath(spec), NodePool: pool})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return "", cloudError(op, err)
	}
	return g.Name, p.poll(ctx, func() (bool, error) {
		got, err := p.cm.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: clusterPath(spec) + "/nodePools/" + g.Name})
		if err != nil {
			return false, cloudError("waiting for node pool "+g.Name, err)
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

func (p *Provider) deletePool(ctx context.Context, spec *cloud.Spec, name string, st func(string)) error {
	op := "deleting node pool " + name
	path := clusterPath(spec) + "/nodePools/" + name
	if _, err := p.cm.DeleteNodePool(ctx, &containerpb.DeleteNodePoolRequest{Name: path}); err != nil && status.Code(err) != codes.NotFound {
		return cloudError(op, err)
	}
	return p.poll(ctx, func() (bool, error) {
		got, err := p.cm.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: path})
		if status.Code(err) == codes.NotFound {
			return true, nil
		}
		if err != nil {
			return false, cloudError(op, err)
		}
		st(got.Status.String())
		return false, nil
	})
}

// Access returns the cluster's endpoint and CA with an access token of
// the credentials.
func (p *Provider) Access(ctx context.Context, spec *cloud.Spec) (*rest.Config, error) {
	c, err := p.cm.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterPath(spec)})
	if err != nil {
		return nil, cloudError("reading GKE cluster "+spec.Name, err)
	}
	if c.Endpoint == "" || c.MasterAuth == nil {
		return nil, fmt.Errorf("GKE cluster %s has no endpoint yet (status %s)", spec.Name, c.Status)
	}
	ca, err := base64.StdEncoding.DecodeString(c.MasterAuth.ClusterCaCertificate)
	if err != nil {
		return nil, fmt.Errorf("GKE cluster %s: CA certificate: %w", spec.Name, err)
	}
	tok, err := p.tokens.Token()
	if err != nil {
		return nil, fmt.Errorf("access token for GKE cluster %s: %w", spec.Name, err)
	}
	host := c.Endpoint
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	return &rest.Config{Host: host, BearerToken: tok.AccessToken, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}, nil
}

// cloudError turns a GKE error into the engine's: the reason Google gives
// (QUOTA_EXCEEDED, ...) or the gRPC code, and the message.
func cloudError(op string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", op, err)
	}
	code := st.Code().String()
	var ae *apierror.APIError
	if errors.As(err, &ae) && ae.Reason() != "" {
		code = ae.Reason()
	} else if ae, ok := apierror.FromError(err); ok && ae.Reason() != "" {
		code = ae.Reason()
	}
	return &cloud.Error{Op: op, Code: code, Message: st.Message()}
}

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
