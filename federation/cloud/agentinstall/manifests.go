// Package agentinstall installs a cluster's flotilla-agent with client-go:
// the objects the Helm chart (deploy/helm/flotilla) renders for an agent
// with an inline bootstrap token and no persistence — ServiceAccount,
// RBAC, bootstrap Secret, Deployment — built in Go (Render, pure) and
// applied with server-side apply (Apply). TestRenderMatchesChart keeps the
// two in step: it compares Render with `helm template` of the chart.
//
// Providers that bring up or discover clusters (Cluster API discovery,
// cloud providers) use it after registering the cluster at the hub and
// issuing its bootstrap token.
package agentinstall

import (
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flotilla-hpc/flotilla/internal/version"
)

// FieldManager names Flotilla's server-side applies.
const FieldManager = "flotilla"

// Values are the chart values an install sets; the zero values take the
// chart's defaults.
type Values struct {
	// Release is the chart's full name (default "flotilla": the release
	// name when it contains "flotilla"); objects are named <Release>-agent...
	Release string
	// Namespace the agent runs in (default "flotilla"); created if missing.
	Namespace string
	// Cluster is the cluster's name at the hub (required).
	Cluster string
	// HubURLs are the hub replicas' API URLs as the cluster reaches them (required).
	HubURLs []string
	// BootstrapToken is the one-time token the agent registers with (required).
	BootstrapToken string
	// Registry and Tag of the images (default: the ones this binary was built for).
	Registry, Tag string
	// NamespacePrefix of the tenants' job namespaces (default "flotilla").
	NamespacePrefix string
	// Heartbeat of the agent (default "2s").
	Heartbeat string
	// NodeSelector (a label selector) of the nodes jobs run on and the
	// taints job pods tolerate (key=value:Effect): chart values
	// agent.jobs.nodeSelector and agent.jobs.tolerate.
	NodeSelector string
	Tolerate     []string
	// ExtraArgs are further agent flags (chart: agent.extraArgs), e.g.
	// the elastic node groups' -elastic-*.
	ExtraArgs []string
}

// ErrInvalid marks values an install cannot use.
var ErrInvalid = errors.New("agentinstall: invalid values")

func (v Values) withDefaults() (Values, error) {
	if v.Release == "" {
		v.Release = "flotilla"
	}
	if v.Namespace == "" {
		v.Namespace = "flotilla"
	}
	if v.Registry == "" {
		v.Registry = version.Registry
	}
	if v.Tag == "" {
		v.Tag = version.Tag()
	}
	if v.NamespacePrefix == "" {
		v.NamespacePrefix = "flotilla"
	}
	if v.Heartbeat == "" {
		v.Heartbeat = "2s"
	}
	switch {
	case v.Cluster == "":
		return v, fmt.Errorf("%w: no cluster name", ErrInvalid)
	case len(v.HubURLs) == 0:
		return v, fmt.Errorf("%w: no hub URL", ErrInvalid)
	case v.BootstrapToken == "":
		return v, fmt.Errorf("%w: no bootstrap token", ErrInvalid)
	}
	return v, nil
}

// AgentName is the name of the agent's Deployment, ServiceAccount and
// ClusterRole for a release.
func AgentName(release string) string {
	if release == "" {
		release = "flotilla"
	}
	return release + "-agent"
}

// BootstrapSecretName is the Secret holding the bootstrap token (key "token").
func BootstrapSecretName(release string) string { return AgentName(release) + "-bootstrap" }

// Render returns the objects of an agent install, in apply order.
func Render(v Values) ([]runtime.Object, error) {
	v, err := v.withDefaults()
	if err != nil {
		return nil, err
	}
	name := AgentName(v.Release)
	selector := map[string]string{
		"app.kubernetes.io/name":      "flotilla",
		"app.kubernetes.io/instance":  v.Release,
		"app.kubernetes.io/component": "agent",
	}
	labels := map[string]string{
		"app.kubernetes.io/version":    v.Tag,
		"app.kubernetes.io/managed-by": "flotilla",
		"app.kubernetes.io/part-of":    "flotilla",
	}
	for k, val := range selector {
		labels[k] = val
	}
	meta := func(n, ns string) metav1.ObjectMeta {
		l := make(map[string]string, len(labels))
		for k, val := range labels {
			l[k] = val
		}
		return metav1.ObjectMeta{Name: n, Namespace: ns, Labels: l}
	}
	sa := []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: v.Namespace}}
	image := func(n string) string { return strings.TrimRight(v.Registry, "/") + "/" + n + ":" + v.Tag }

	objs := []runtime.Object{
		&corev1.Namespace{TypeMeta: tm("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: v.Namespace}},
		&corev1.ServiceAccount{TypeMeta: tm("v1", "ServiceAccount"), ObjectMeta: meta(name, v.Namespace)},
		&corev1.Secret{TypeMeta: tm("v1", "Secret"), ObjectMeta: meta(BootstrapSecretName(v.Release), v.Namespace),
			Type: corev1.SecretTypeOpaque, StringData: map[string]string{"token": v.BootstrapToken}},
		&rbacv1.ClusterRole{TypeMeta: tm("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: meta(name, ""), Rules: clusterRules()},
		&rbacv1.ClusterRole{TypeMeta: tm("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: meta(name+"-jobs", ""), Rules: jobRules()},
		&rbacv1.ClusterRoleBinding{TypeMeta: tm("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ObjectMeta: meta(name, ""),
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name}, Subjects: sa},
		&rbacv1.ClusterRoleBinding{TypeMeta: tm("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ObjectMeta: meta(name+"-jobs", ""),
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name + "-jobs"}, Subjects: sa},
		&rbacv1.Role{TypeMeta: tm("rbac.authorization.k8s.io/v1", "Role"), ObjectMeta: meta(name+"-apiserver", "default"), Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services"}, ResourceNames: []string{"kubernetes"}, Verbs: []string{"get"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list"}},
		}},
		&rbacv1.RoleBinding{TypeMeta: tm("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: meta(name+"-apiserver", "default"),
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name + "-apiserver"}, Subjects: sa},
		deployment(v, meta(name, v.Namespace), selector, image),
	}
	return objs, nil
}

func tm(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// clusterRules are the cluster-wide reads of the gang scheduler (chart:
// ClusterRole <release>-agent).
func clusterRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch", "create", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, Verbs: []string{"get"}},
	}
}

// jobRules are what the agent writes where jobs run (chart: ClusterRole
// <release>-agent-jobs, bound cluster-wide).
func jobRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete", "deletecollection"}},
		{APIGroups: []string{""}, Resources: []string{"pods/binding"}, Verbs: []string{"create"}},
		{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies", "ingresses"}, Verbs: []string{"get", "list", "watch", "create", "delete"}},
	}
}

// args are the agent's flags in the chart's order.
func args(v Values, image func(string) string) []string {
	a := []string{
		"-cluster=" + v.Cluster,
		"-hub=" + strings.Join(v.HubURLs, ","),
		"-agent-key-file=/var/lib/flotilla-agent/agent-key",
		"-bootstrap-token-file=/etc/flotilla/bootstrap/token",
		"-hub-ca-file=/var/lib/flotilla-agent/hub-ca.crt",
		"-namespace-prefix=" + v.NamespacePrefix,
	}
	if v.NodeSelector != "" {
		a = append(a, "-node-selector="+v.NodeSelector)
	}
	if len(v.Tolerate) > 0 {
		a = append(a, "-tolerate="+strings.Join(v.Tolerate, ","))
	}
	a = append(a, "-init-image="+image("flotilla-init"), "-filer-image="+image("flotilla-filer"), "-heartbeat="+v.Heartbeat)
	return append(a, v.ExtraArgs...)
}

func deployment(v Values, meta metav1.ObjectMeta, selector map[string]string, image func(string) string) *appsv1.Deployment {
	one := int32(1)
	f, t := false, true
	uid := int64(65532)
	mode := int32(0o440)
	size := resource.MustParse("16Mi")
	podLabels := map[string]string{}
	for k, val := range selector {
		podLabels[k] = val
	}
	name := meta.Name
	return &appsv1.Deployment{
		TypeMeta:   tm("apps/v1", "Deployment"),
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					ServiceAccountName: name,
					EnableServiceLinks: &f,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot: &t, RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            "agent",
						Image:           image("flotilla-agent"),
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            args(v, image),
						Resources: corev1.ResourceRequirements{
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
						},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: &f, ReadOnlyRootFilesystem: &t,
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "state", MountPath: "/var/lib/flotilla-agent"},
							{Name: "bootstrap", MountPath: "/etc/flotilla/bootstrap", ReadOnly: true},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &size}}},
						{Name: "bootstrap", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
							SecretName: BootstrapSecretName(v.Release), DefaultMode: &mode,
							Items: []corev1.KeyToPath{{Key: "token", Path: "token"}},
						}}},
					},
				},
			},
		},
	}
}
