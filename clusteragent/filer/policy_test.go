package filer

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestServerUnprivileged: a filer's server is not privileged and keeps only
// the capabilities a user-space NFS server needs; its policy fences it.
func TestServerUnprivileged(t *testing.T) {
	v := &structs.Vault{Tenant: "acme", Name: "scratch", Kind: structs.VaultBlock, ClaimName: "scratch", AccessMode: structs.AccessRWO}
	_, pod := Objects(v, Options{Namespace: "flotilla-acme-x"}, "")
	sc := pod.Spec.Containers[0].SecurityContext
	if sc == nil || sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Fatalf("filer security context %+v: want unprivileged, no escalation", sc)
	}
	if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("dropped %v, want ALL", sc.Capabilities.Drop)
	}
	for _, c := range sc.Capabilities.Add {
		if c == "SYS_ADMIN" || c == "NET_ADMIN" || c == "SYS_MODULE" {
			t.Errorf("filer keeps %s", c)
		}
	}
	if !slices.Equal(sc.Capabilities.Add, ServerCapabilities()) {
		t.Errorf("added %v, want %v", sc.Capabilities.Add, ServerCapabilities())
	}
	if pod.Spec.SecurityContext == nil || pod.Spec.SecurityContext.SeccompProfile == nil {
		t.Errorf("filer pod without a seccomp profile")
	}
	pol := NetworkPolicy(v, Options{Namespace: "flotilla-acme-x", NodeCIDRs: []string{"192.168.1.0/24"}})
	if pol.Namespace != "flotilla-acme-x" || len(pol.Spec.Egress) != 0 || len(pol.Spec.PolicyTypes) != 2 {
		t.Errorf("filer policy %+v: want it in the vault's namespace, ingress and egress fenced, no egress", pol.Spec)
	}
}
