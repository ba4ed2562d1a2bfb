package runtime

import (
	"maps"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/flotilla-hpc/flotilla/clusteragent/filer"
)

// headlessService is the Service named like the pods' subdomain: it gives
// every pod the DNS name <pod>.<subdomain>, published before the pod is
// ready so the nodes can find each other while they start.
func (r *renderer) headlessService() *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: r.meta(r.name),
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			Selector:                 r.selector(false),
			PublishNotReadyAddresses: true,
			Ports: []corev1.ServicePort{{
				Name:       "ssh",
				Protocol:   corev1.ProtocolTCP,
				Port:       r.opts.SSHPort,
				TargetPort: intstr.FromInt32(r.opts.SSHPort),
			}},
		},
	}
}

// networkPolicy fences the job's pods in both directions (the tenant
// namespace's default-deny policy refuses whatever no policy allows):
//
//   - ingress: from the job's own pods, any port (SSH, MPI, the control
//     port); for an interactive job also from the ingress controller's
//     namespace, on the token guard's port only (never the app's ports);
//   - egress: to the job's own pods; to the cluster DNS pods on port 53;
//     to its vault's filer, if any, on the NFS ports;
//     to the admin's allow-list (Options.EgressAllow) less the deny-list
//     (Options.EgressDeny, the API server) and the metadata address.
//
// Everything else — other jobs, other tenants, the hub, the API server,
// 169.254.169.254 — is refused.
func (r *renderer) networkPolicy(interactive bool) *networkingv1.NetworkPolicy {
	own := &metav1.LabelSelector{MatchLabels: r.selector(false)}
	ingress := []networkingv1.NetworkPolicyIngressRule{{
		From: []networkingv1.NetworkPolicyPeer{{PodSelector: own}},
	}}
	if interactive {
		ingress = append(ingress, networkingv1.NetworkPolicyIngressRule{
			From: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
					corev1.LabelMetadataName: r.opts.IngressNamespace,
				}},
			}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: new(corev1.ProtocolTCP), Port: new(intstr.FromInt32(r.opts.GuardPort))}},
		})
	}
	egress := []networkingv1.NetworkPolicyEgressRule{
		{To: []networkingv1.NetworkPolicyPeer{{PodSelector: own}}},
		{
			To: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: r.opts.DNSNamespace}},
				PodSelector:       &metav1.LabelSelector{MatchLabels: maps.Clone(r.opts.DNSPodLabels)},
			}},
			Ports: []networkingv1.NetworkPolicyPort{
				{Protocol: new(corev1.ProtocolUDP), Port: new(intstr.FromInt32(53))},
				{Protocol: new(corev1.ProtocolTCP), Port: new(intstr.FromInt32(53))},
			},
		},
	}
	if name := r.in.Labels[filer.LabelFiler]; name != "" && r.in.VaultNFS != nil {
		// A user-space NFS client in the pods reaches the vault's filer
		// (the kubelet's mount comes from the node, see filer.NetworkPolicy).
		egress = append(egress, networkingv1.NetworkPolicyEgressRule{
			To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
				filer.LabelFiler: name, filer.LabelComponent: filer.ComponentFiler}}}},
			Ports: filer.PolicyPorts(),
		})
	}
	if peers := allowedBlocks(r.opts.EgressAllow, append([]string{MetadataCIDR}, r.opts.EgressDeny...)); len(peers) > 0 {
		egress = append(egress, networkingv1.NetworkPolicyEgressRule{To: peers})
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: r.meta(r.name),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: *own,
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     ingress,
			Egress:      egress,
		},
	}
}

// allowedBlocks turns the allow-list into ipBlock peers, each excepting the
// denied CIDRs that lie inside it (an ipBlock's exceptions must). A denied
// CIDR that contains an allowed one removes that one altogether. CIDRs
// were checked by Options.withDefaults.
func allowedBlocks(allow, deny []string) []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	for _, a := range allow {
		ap, err := netip.ParsePrefix(a)
		if err != nil {
			continue
		}
		ap = ap.Masked()
		block := &networkingv1.IPBlock{CIDR: ap.String()}
		covered := false
		for _, d := range deny {
			dp, err := netip.ParsePrefix(d)
			if err != nil || dp.Addr().Is4() != ap.Addr().Is4() {
				continue
			}
			dp = dp.Masked()
			switch {
			case dp.Bits() <= ap.Bits() && dp.Contains(ap.Addr()):
				covered = true
			case dp.Bits() > ap.Bits() && ap.Contains(dp.Addr()):
				block.Except = append(block.Except, dp.String())
			}
		}
		if !covered {
			out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: block})
		}
	}
	return out
}
