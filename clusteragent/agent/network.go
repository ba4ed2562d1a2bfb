package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Network is the network side of an agent's jobs: where interactive jobs
// are reached and what job pods may reach.
type Network struct {
	// JobsDomain, IngressClass, IngressTLSSecret and IngressNamespace
	// place interactive jobs behind the ingress controller; each job's
	// token guard is the only way in (runtime.Options).
	JobsDomain       string
	IngressClass     string
	IngressTLSSecret string
	IngressNamespace string
	// EgressAllow are CIDRs job pods may reach besides their own job and
	// the cluster DNS; EgressDeny are excepted from them, as are always
	// the metadata address and the API server's addresses.
	EgressAllow []string
	EgressDeny  []string
	// NodeCIDRs are the nodes' addresses, admitted to the filers (the
	// kubelet mounts their exports).
	NodeCIDRs []string
}

// check validates the CIDRs.
func (n Network) check() error {
	for _, list := range [][]string{n.EgressAllow, n.EgressDeny, n.NodeCIDRs} {
		for _, c := range list {
			if _, err := netip.ParsePrefix(c); err != nil {
				return fmt.Errorf("network: %q is not a CIDR (e.g. 10.1.2.0/24): %v", c, err)
			}
		}
	}
	return nil
}

// apply puts the settings into the cluster half's configuration; apiServer
// are the API server's addresses, denied to job pods.
func (n Network) apply(c *ClusterConfig, apiServer []string) {
	r := &c.Runtime
	r.JobsDomain, r.IngressClass, r.IngressTLSSecret = n.JobsDomain, n.IngressClass, n.IngressTLSSecret
	if n.IngressNamespace != "" {
		r.IngressNamespace = n.IngressNamespace
	}
	r.EgressAllow = append(r.EgressAllow, n.EgressAllow...)
	r.EgressDeny = append(append(r.EgressDeny, n.EgressDeny...), apiServer...)
	c.Filer.NodeCIDRs = append(c.Filer.NodeCIDRs, n.NodeCIDRs...)
}

// apiServerCIDRs returns the API server's addresses as /32 or /128 CIDRs:
// the host of the agent's kubeconfig when it is an address, the cluster IP
// of the kubernetes Service and its endpoints (policies see the endpoint
// after the Service's translation). What cannot be read is logged and
// left out.
func apiServerCIDRs(kc kubernetes.Interface, host string, log *slog.Logger) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		c := netip.PrefixFrom(a, a.BitLen()).String()
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	if u, err := url.Parse(host); err == nil {
		h := u.Hostname()
		if h == "" {
			h = host
		}
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		add(h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if svc, err := kc.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{}); err == nil {
		for _, ip := range svc.Spec.ClusterIPs {
			add(ip)
		}
	} else {
		log.Warn("API server's service address unknown; add it to -egress-deny if -egress-allow covers it", "err", err)
	}
	if eps, err := kc.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=kubernetes"}); err == nil {
		for _, s := range eps.Items {
			for _, e := range s.Endpoints {
				for _, a := range e.Addresses {
					add(a)
				}
			}
		}
	} else {
		log.Warn("API server's endpoints unknown; add them to -egress-deny if -egress-allow covers them", "err", err)
	}
	return out
}
