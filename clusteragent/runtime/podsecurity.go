package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/clusteragent/filer"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Pod Security Admission levels of the tenant namespaces (Options.PodSecurity).
const (
	// PodSecurityRestricted enforces Kubernetes' restricted profile: what
	// every job pod the agent makes meets (non-root, seccomp
	// RuntimeDefault, no capabilities, no privilege escalation, only
	// secret, configMap, emptyDir, downward API and claim volumes).
	PodSecurityRestricted = "restricted"
	// PodSecurityBaseline enforces baseline (NFS volumes allowed: a
	// cluster-wide -mount of an NFS share or a machine type's nfs: device),
	// restricted stays the warn and audit level.
	PodSecurityBaseline = "baseline"
	// PodSecurityPrivileged enforces nothing (host path mounts, machine
	// types' host binds as on local nodes); warn and audit stay
	// restricted, so the API server still reports every deviation.
	PodSecurityPrivileged = "privileged"
	// PodSecurityOff leaves the tenant namespaces' pod-security labels to
	// the cluster's administrators: the agent neither sets nor changes them.
	PodSecurityOff = "off"
	// DefaultPodSecurity is the level of an agent that names none.
	DefaultPodSecurity = PodSecurityRestricted
)

// Pod Security Admission's namespace labels.
const (
	LabelPodSecurityEnforce        = "pod-security.kubernetes.io/enforce"
	LabelPodSecurityEnforceVersion = "pod-security.kubernetes.io/enforce-version"
	LabelPodSecurityWarn           = "pod-security.kubernetes.io/warn"
	LabelPodSecurityWarnVersion    = "pod-security.kubernetes.io/warn-version"
	LabelPodSecurityAudit          = "pod-security.kubernetes.io/audit"
	LabelPodSecurityAuditVersion   = "pod-security.kubernetes.io/audit-version"
	// AnnotPodSecurity on a tenant namespace says why its enforce level is
	// weaker than the agent's (a filer runs there).
	AnnotPodSecurity = "flotilla.io/pod-security"
)

// CheckPodSecurity validates a -pod-security value ("" is the default).
func CheckPodSecurity(level string) error {
	switch level {
	case "", PodSecurityRestricted, PodSecurityBaseline, PodSecurityPrivileged, PodSecurityOff:
		return nil
	}
	return structs.Errorf(structs.ErrInvalid, "pod security level %q: want restricted, baseline, privileged or off", level)
}

// PodSecurityLabels are the labels a tenant namespace carries at level:
// enforce at that level, warn and audit at restricted, every one at the
// API server's latest version of the profiles. Off (and an unknown level)
// has none.
func PodSecurityLabels(level string) map[string]string {
	if level == "" {
		level = DefaultPodSecurity
	}
	if level == PodSecurityOff || CheckPodSecurity(level) != nil {
		return nil
	}
	return map[string]string{
		LabelPodSecurityEnforce: level, LabelPodSecurityEnforceVersion: "latest",
		LabelPodSecurityWarn: PodSecurityRestricted, LabelPodSecurityWarnVersion: "latest",
		LabelPodSecurityAudit: PodSecurityRestricted, LabelPodSecurityAuditVersion: "latest",
	}
}

// filerReason is AnnotPodSecurity's value on a namespace lowered for a filer.
const filerReason = "privileged: serves a ReadWriteOnce vault with a filer (an NFS server as root with capabilities beyond baseline)"

// namespaceLevel is the enforce level tenant namespace ns should carry:
// the runner's, or privileged while a filer may run there (withFiler).
func (r *Reconciler) namespaceLevel(withFiler bool) string {
	level := r.Options.PodSecurity
	if level == "" {
		level = DefaultPodSecurity
	}
	if withFiler && level != PodSecurityOff {
		return PodSecurityPrivileged
	}
	return level
}

// labelPodSecurity brings namespace ns's pod-security labels to level (a
// merge patch of those labels and AnnotPodSecurity only), unless they are
// already there. Off changes nothing.
func (r *Reconciler) labelPodSecurity(ctx context.Context, ns *corev1.Namespace, level, reason string) error {
	want := PodSecurityLabels(level)
	if want == nil {
		return nil
	}
	same := ns.Annotations[AnnotPodSecurity] == reason
	for k, v := range want {
		same = same && ns.Labels[k] == v
	}
	if same {
		return nil
	}
	var annot any = reason
	if reason == "" {
		annot = nil // remove
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels": want, "annotations": map[string]any{AnnotPodSecurity: annot}}})
	if err != nil {
		return err
	}
	got, err := r.Client.CoreV1().Namespaces().Patch(ctx, ns.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("tenant namespace %s: pod security labels: %w", ns.Name, err)
	}
	*ns = *got
	r.Log.Info("tenant namespace pod security", "namespace", ns.Name, "enforce", level, "reason", reason)
	return nil
}

// RelabelNamespaces brings every tenant namespace of this runner to its
// pod security level: the runner's, or privileged where a filer still
// runs. Run calls it at start, so a changed -pod-security reaches the
// namespaces made before.
func (r *Reconciler) RelabelNamespaces(ctx context.Context) error {
	if r.Options.NamespacePrefix == "" || r.namespaceLevel(false) == PodSecurityOff {
		return nil
	}
	l, err := r.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: podgroup.LabelTenantNamespace + "=true"})
	if err != nil {
		return fmt.Errorf("list tenant namespaces: %w", err)
	}
	for i := range l.Items {
		ns := &l.Items[i]
		if !r.ownsNamespace(ns.Name) || ns.DeletionTimestamp != nil {
			continue
		}
		filers, err := r.filersIn(ctx, ns.Name)
		if err != nil {
			return err
		}
		level, reason := r.namespaceLevel(filers), ""
		if filers && level != r.namespaceLevel(false) {
			reason = filerReason
		}
		if err := r.labelPodSecurity(ctx, ns, level, reason); err != nil {
			return err
		}
	}
	return nil
}

// filersIn says whether filer pods or Services exist in ns.
func (r *Reconciler) filersIn(ctx context.Context, ns string) (bool, error) {
	sel := metav1.ListOptions{LabelSelector: filer.LabelComponent + "=" + filer.ComponentFiler, Limit: 1}
	svcs, err := r.Client.CoreV1().Services(ns).List(ctx, sel)
	if err != nil {
		return false, fmt.Errorf("tenant namespace %s: filers: %w", ns, err)
	}
	return len(svcs.Items) > 0, nil
}

// FilerComing lowers tenant namespace ns's enforce level to privileged
// before a filer is made there (filer.Namespaces; the filer manager calls
// it in Ensure): the filer's NFS server runs as root with capabilities
// outside baseline (and the shipped kernel-server image privileged), which
// no other level admits. Warn and audit stay restricted.
func (r *Reconciler) FilerComing(ctx context.Context, ns string) error {
	level := r.namespaceLevel(true)
	if r.Options.NamespacePrefix == "" || level == r.namespaceLevel(false) {
		return nil
	}
	got, err := r.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("tenant namespace %s: %w", ns, err)
	}
	return r.labelPodSecurity(ctx, got, level, filerReason)
}

// cannotRun turns the API server's refusals that no retry cures — an
// invalid object, a pod Pod Security Admission refuses in the namespace
// — into ErrInvalid, so the job ends with the server's reason; other
// errors are returned as they are.
func cannotRun(err error) error {
	if apierrors.IsInvalid(err) || (apierrors.IsForbidden(err) && strings.Contains(err.Error(), "violates PodSecurity")) {
		return structs.Errorf(structs.ErrInvalid, "%v", err)
	}
	return err
}

// withPodSecurity returns ns's labels with level's pod-security labels.
func withPodSecurity(labels map[string]string, level string) map[string]string {
	out := maps.Clone(labels)
	maps.Copy(out, PodSecurityLabels(level))
	return out
}

// FilersGone brings tenant namespace ns back to the runner's level once
// its last filer is gone (filer.Namespaces; the filer manager calls it
// from its reconcile pass): only a namespace FilerComing lowered, as
// AnnotPodSecurity shows; one an administrator labelled is left alone.
func (r *Reconciler) FilersGone(ctx context.Context, ns string) error {
	level := r.namespaceLevel(false)
	if r.Options.NamespacePrefix == "" || !r.ownsNamespace(ns) || level == r.namespaceLevel(true) {
		return nil
	}
	got, err := r.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tenant namespace %s: %w", ns, err)
	}
	if got.Annotations[AnnotPodSecurity] != filerReason || got.DeletionTimestamp != nil {
		return nil
	}
	return r.labelPodSecurity(ctx, got, level, "")
}
