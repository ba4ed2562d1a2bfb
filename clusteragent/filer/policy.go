package filer

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// NetworkPolicy is a filer's fence: its server is reached only on the NFS
// ports, only from the pods of the jobs on its vault (which carry
// LabelFiler; they are the vault's tenant's, in the filer's namespace) and
// from the nodes (opts.NodeCIDRs: the kubelet performs the NFS mount), and
// it reaches nothing. Another tenant's pods, in other namespaces, are
// refused. The tenant namespace's default-deny policy refuses the rest.
func NetworkPolicy(v *structs.Vault, opts Options) *networkingv1.NetworkPolicy {
	name := Name(v)
	ports := PolicyPorts()
	from := []networkingv1.NetworkPolicyPeer{{
		PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelFiler: name}},
	}}
	for _, cidr := range opts.NodeCIDRs {
		from = append(from, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: opts.Namespace,
			Labels: map[string]string{LabelFiler: name, LabelComponent: ComponentFiler}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{LabelFiler: name, LabelComponent: ComponentFiler}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: from, Ports: ports}},
		},
	}
}

// PolicyPorts are the filer's NFS ports as NetworkPolicy ports.
func PolicyPorts() []networkingv1.NetworkPolicyPort {
	var ports []networkingv1.NetworkPolicyPort
	for _, p := range nfsPorts() {
		ports = append(ports, networkingv1.NetworkPolicyPort{Protocol: new(corev1.ProtocolTCP), Port: new(intstr.FromInt32(p.port))})
	}
	return ports
}
