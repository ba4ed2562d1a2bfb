package cloud

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/flotilla-hpc/flotilla/federation/cloud/agentinstall"
)

// The agent's objects in the new cluster: what agentinstall (the Helm
// chart's objects) names them for release "flotilla" in this namespace.
const (
	AgentNamespace = "flotilla-system"
	agentRelease   = "flotilla"
)

// Agent object names.
var (
	AgentName        = agentinstall.AgentName(agentRelease)
	AgentTokenSecret = agentinstall.BootstrapSecretName(agentRelease)
)

// AgentOptions adjust the installed agent.
type AgentOptions struct {
	// Registry and Tag of the images; empty takes this build's.
	Registry, Tag string
	// Endpoint and PollInterval are passed on to the agent's elastic
	// node groups (a private cloud API endpoint; how often a resize
	// asks for progress).
	Endpoint     string
	PollInterval time.Duration
	// ElasticIdle is how long an elastic node group runs no job before
	// the agent shrinks it to its minimum (0: the agent's default, 10 min).
	ElasticIdle time.Duration
}

// AgentSettings are what the installed agent is told.
type AgentSettings struct {
	Spec           *Spec
	HubURLs        []string
	BootstrapToken string
	Options        AgentOptions
}

// AgentValues are the agentinstall values of a cloud cluster's agent: jobs
// on the machine-type pools (their label and taint), and the elastic node
// groups of the spec's elastic machine types.
func AgentValues(s AgentSettings) agentinstall.Values {
	v := agentinstall.Values{Release: agentRelease, Namespace: AgentNamespace, Cluster: s.Spec.Name, HubURLs: s.HubURLs,
		BootstrapToken: s.BootstrapToken, Registry: s.Options.Registry, Tag: s.Options.Tag,
		NodeSelector: LabelPool + "=" + DefaultPool, Tolerate: []string{LabelPool + "=" + DefaultPool + ":NoSchedule"}}
	v.ExtraArgs = ElasticArgs(s.Spec, s.Options)
	return v
}

// ElasticArgs are the agent flags that make it resize the spec's elastic
// node groups (none when no machine type is elastic). The agent uses its
// cloud's default credentials: EKS Pod Identity or IRSA, GKE Workload
// Identity, bound to its ServiceAccount.
func ElasticArgs(spec *Spec, o AgentOptions) []string {
	var groups []string
	for _, g := range spec.NodeGroups() {
		if g.Elastic {
			groups = append(groups, fmt.Sprintf("%s=%s:%d:%d", g.Name, g.MachineType, g.MinNodes, g.MaxNodes))
		}
	}
	if len(groups) == 0 {
		return nil
	}
	a := []string{"-elastic-cloud=" + string(spec.Provider), "-elastic-region=" + spec.Region, "-elastic-groups=" + strings.Join(groups, ",")}
	if spec.Project != "" {
		a = append(a, "-elastic-project="+spec.Project)
	}
	if o.Endpoint != "" {
		a = append(a, "-elastic-endpoint="+o.Endpoint)
	}
	if o.PollInterval > 0 {
		a = append(a, "-elastic-poll="+o.PollInterval.String())
	}
	if o.ElasticIdle > 0 {
		a = append(a, "-elastic-idle="+o.ElasticIdle.String())
	}
	return a
}

// InstallAgent applies the agent's objects to the cluster (server-side
// apply: a second run brings them in line) and returns the Deployment's
// namespace/name.
func InstallAgent(ctx context.Context, kube *rest.Config, s AgentSettings) (string, error) {
	if err := agentinstall.Install(ctx, kube, AgentValues(s)); err != nil {
		return "", fmt.Errorf("installing the agent: %w", err)
	}
	return AgentNamespace + "/" + AgentName, nil
}

// UninstallAgent deletes the agent's namespace and cluster-wide objects.
func UninstallAgent(ctx context.Context, kube *rest.Config, status func(string)) error {
	if err := agentinstall.Uninstall(ctx, kube, agentinstall.Values{Release: agentRelease, Namespace: AgentNamespace}); err != nil {
		return err
	}
	status("namespace " + AgentNamespace + " deleted")
	return nil
}
