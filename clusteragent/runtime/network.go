package runtime

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
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

// networkPolicy lets only the job's own pods reach them, plus, for an
// interactive job, the ingress controller's namespace on the web ports.
// Egress is not restricted.
func (r *renderer) networkPolicy(web []corev1.ServicePort) *networkingv1.NetworkPolicy {
	own := &metav1.LabelSelector{MatchLabels: r.selector(false)}
	rules := []networkingv1.NetworkPolicyIngressRule{{
		From: []networkingv1.NetworkPolicyPeer{{PodSelector: own}},
	}}
	if len(web) > 0 {
		var ports []networkingv1.NetworkPolicyPort
		for _, p := range web {
			ports = append(ports, networkingv1.NetworkPolicyPort{
				Protocol: new(corev1.ProtocolTCP),
				Port:     new(intstr.FromInt32(p.Port)),
			})
		}
		rules = append(rules, networkingv1.NetworkPolicyIngressRule{
			From: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
					corev1.LabelMetadataName: r.opts.IngressNamespace,
				}},
			}},
			Ports: ports,
		})
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: r.meta(r.name),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: *own,
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     rules,
		},
	}
}
