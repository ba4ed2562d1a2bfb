package hubconfig

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flotilla-hpc/flotilla/federation/cloud/agentinstall"
	"github.com/flotilla-hpc/flotilla/federation/hub"
)

// ClusterAPISettings turn on Cluster API discovery (federation/cloud/capi):
//
//	cluster_api:
//	  kubeconfig: /etc/flotilla/capi-management.kubeconfig
//	  selector: flotilla.io/join=true
//	  agent_hub_urls: [https://hpc.example.org]
type ClusterAPISettings struct {
	// Kubeconfig of the management cluster; empty turns discovery off.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Selector is the label selector of the Clusters to join (required).
	Selector string `json:"selector,omitempty"`
	// Namespace limits discovery to one namespace (default: all).
	Namespace string `json:"namespace,omitempty"`
	// AgentHubURLs are the hub's URLs as the joined clusters reach them (required).
	AgentHubURLs []string `json:"agent_hub_urls,omitempty"`
	// AgentNamespace is where the agent is installed (default flotilla).
	AgentNamespace string `json:"agent_namespace,omitempty"`
	// Resync is the longest gap between passes (default 30s).
	Resync Duration `json:"resync,omitempty"`
}

// registerClusterAPIFlags binds the -capi-* flags to s.ClusterAPI.
func registerClusterAPIFlags(fs *flag.FlagSet, s *Settings) {
	c := &ClusterAPISettings{}
	s.ClusterAPI = c
	fs.StringVar(&c.Kubeconfig, "capi-kubeconfig", "", "kubeconfig of a Cluster API management cluster: join its selected Clusters (leader only)")
	fs.StringVar(&c.Selector, "capi-selector", "", "label selector of the Cluster API Clusters to join, e.g. flotilla.io/join=true")
	fs.StringVar(&c.Namespace, "capi-namespace", "", "only Clusters of this namespace (default all)")
	fs.Func("capi-agent-hub-url", "the hub's URL as joined clusters reach it (comma-separated for several)", func(v string) error {
		for _, u := range strings.Split(v, ",") {
			if u = strings.TrimSpace(u); u != "" {
				c.AgentHubURLs = append(c.AgentHubURLs, u)
			}
		}
		return nil
	})
	fs.StringVar(&c.AgentNamespace, "capi-agent-namespace", "", "namespace of the agents it installs (default flotilla)")
	fs.Var(&c.Resync, "capi-resync", "longest gap between Cluster API discovery passes (default 30s)")
}

// overlayClusterAPI copies the -capi-* flag name from src to dst and
// reports whether name is one.
func overlayClusterAPI(dst, src *Settings, name string) bool {
	if !strings.HasPrefix(name, "capi-") {
		return false
	}
	if dst.ClusterAPI == nil {
		dst.ClusterAPI = &ClusterAPISettings{}
	}
	d, s := dst.ClusterAPI, src.ClusterAPI
	switch name {
	case "capi-kubeconfig":
		d.Kubeconfig = s.Kubeconfig
	case "capi-selector":
		d.Selector = s.Selector
	case "capi-namespace":
		d.Namespace = s.Namespace
	case "capi-agent-hub-url":
		d.AgentHubURLs = s.AgentHubURLs
	case "capi-agent-namespace":
		d.AgentNamespace = s.AgentNamespace
	case "capi-resync":
		d.Resync = s.Resync
	default:
		return false
	}
	return true
}

// options turns the settings into the hub's; nil when discovery is off.
func (c *ClusterAPISettings) options() (*hub.ClusterAPIOptions, error) {
	if c == nil || c.Kubeconfig == "" {
		return nil, nil
	}
	if strings.TrimSpace(c.Selector) == "" {
		return nil, errors.New("cluster API discovery: a selector is required (-capi-selector)")
	}
	sel, err := labels.Parse(c.Selector)
	if err != nil {
		return nil, fmt.Errorf("cluster API discovery: selector %q: %w", c.Selector, err)
	}
	if len(c.AgentHubURLs) == 0 {
		return nil, errors.New("cluster API discovery: the hub's URL for the agents is required (-capi-agent-hub-url)")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("cluster API discovery: kubeconfig %s: %w", c.Kubeconfig, err)
	}
	return &hub.ClusterAPIOptions{Management: rc, Selector: sel, Namespace: c.Namespace,
		Agent:  agentinstall.Values{HubURLs: c.AgentHubURLs, Namespace: c.AgentNamespace},
		Resync: time.Duration(c.Resync)}, nil
}
