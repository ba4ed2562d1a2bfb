package runtime

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// DefaultDenyName names the NetworkPolicy in every tenant namespace that
// denies all traffic to and from its pods but what a job's or a filer's own
// policy allows.
const DefaultDenyName = "flotilla-default-deny"

// namespaceOf is the namespace a tenant's jobs run in: its tenant
// namespace, or Options.Namespace when the runner has no NamespacePrefix
// (a single namespace, for tools and tests that drive the runner alone).
func (r *Reconciler) namespaceOf(tenant string) string {
	if r.Options.NamespacePrefix == "" {
		return r.Options.Namespace
	}
	return podgroup.TenantNamespace(r.Options.NamespacePrefix, tenant)
}

// ownsNamespace says whether the runner's jobs may live in ns.
func (r *Reconciler) ownsNamespace(ns string) bool {
	if r.Options.NamespacePrefix == "" {
		return ns == r.Options.Namespace
	}
	return podgroup.IsTenantNamespace(r.Options.NamespacePrefix, ns)
}

// TenantNamespaceObject is the namespace of a tenant: labelled as Flotilla's
// and the tenant's, with the tenant verbatim in an annotation.
func TenantNamespaceObject(name, tenant string) *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				podgroup.LabelManaged:         "true",
				podgroup.LabelTenantNamespace: "true",
				podgroup.LabelTenant:          podgroup.LabelValue(tenant),
			},
			Annotations: map[string]string{podgroup.AnnotTenant: tenant},
		},
	}
}

// DefaultDeny is the NetworkPolicy that isolates every pod of a tenant
// namespace in both directions; policies of jobs and filers open what
// they need.
func DefaultDeny(namespace string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: DefaultDenyName, Namespace: namespace,
			Labels: map[string]string{podgroup.LabelManaged: "true"}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
}

// ensureNamespace makes the tenant's namespace exist, labelled, with its
// default-deny policy. A namespace of that name that is not this tenant's
// (made by someone else, or another tenant's) is refused with ErrInvalid:
// a job never runs in a namespace it does not own.
func (r *Reconciler) ensureNamespace(ctx context.Context, ns, tenant string) error {
	if r.Options.NamespacePrefix == "" {
		return nil
	}
	r.mu.Lock()
	ready := r.nsReady[ns]
	r.mu.Unlock()
	if ready {
		return nil
	}
	api := r.Client.CoreV1().Namespaces()
	obj := TenantNamespaceObject(ns, tenant)
	obj.Labels = withPodSecurity(obj.Labels, r.namespaceLevel(false))
	got, err := api.Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		got, err = api.Get(ctx, ns, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("tenant namespace %s: %w", ns, err)
	}
	if got.Labels[podgroup.LabelTenantNamespace] != "true" || got.Annotations[podgroup.AnnotTenant] != tenant {
		return structs.Errorf(structs.ErrInvalid, "namespace %s exists but is not tenant %q's namespace", ns, tenant)
	}
	if got.DeletionTimestamp != nil {
		return structs.Errorf(structs.ErrUnavailable, "tenant namespace %s is being deleted", ns)
	}
	if got.Annotations[AnnotPodSecurity] != filerReason { // a filer's namespace keeps its level
		if err := r.labelPodSecurity(ctx, got, r.namespaceLevel(false), ""); err != nil {
			return err
		}
	}
	_, err = r.Client.NetworkingV1().NetworkPolicies(ns).Create(ctx, DefaultDeny(ns), metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("tenant namespace %s: default-deny policy: %w", ns, err)
	}
	r.mu.Lock()
	if r.nsReady == nil {
		r.nsReady = map[string]bool{}
	}
	r.nsReady[ns] = true
	r.mu.Unlock()
	r.Log.Info("tenant namespace ready", "namespace", ns, "tenant", tenant)
	return nil
}

// CheckVault says whether a job of tenant may mount vault v: a claim name
// must be a DNS-1123 subdomain (a claim's name, nothing else), and the
// vault must be the job's tenant's. Errors wrap structs.ErrInvalid.
func CheckVault(v *structs.Vault, tenant string) error {
	if v == nil || v.ClaimName == "" {
		return nil
	}
	if errs := validation.IsDNS1123Subdomain(v.ClaimName); len(errs) > 0 {
		return structs.Errorf(structs.ErrInvalid, "vault %q: claim name %q: %s", v.Name, v.ClaimName, strings.Join(errs, "; "))
	}
	if v.Tenant != "" && v.Tenant != tenant {
		return structs.Errorf(structs.ErrInvalid, "vault %q belongs to another tenant", v.Name)
	}
	return nil
}

// checkClaim makes sure the vault's claim exists in the job's namespace:
// a claim resolves only there, so another tenant's claim of that name is
// never reached, and a job naming a claim its tenant does not have fails
// at once with a clear error instead of waiting for a volume forever.
func (r *Reconciler) checkClaim(ctx context.Context, v *structs.Vault, ns, tenant string) error {
	if err := CheckVault(v, tenant); err != nil || v == nil || v.ClaimName == "" {
		return err
	}
	_, err := r.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, v.ClaimName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return structs.Errorf(structs.ErrInvalid, "vault %q: claim %q does not exist in tenant %q's namespace %s", v.Name, v.ClaimName, tenant, ns)
	}
	if err != nil {
		return fmt.Errorf("vault %q: claim %q: %w", v.Name, v.ClaimName, err)
	}
	return nil
}
