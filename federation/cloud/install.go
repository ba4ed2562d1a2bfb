package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/flotilla-hpc/flotilla/internal/version"
)

// The agent's objects in the new cluster: the names the Helm chart gives
// them for a release named "flotilla" in this namespace.
const (
	AgentNamespace   = "flotilla-system"
	AgentName        = "flotilla-agent"
	AgentTokenSecret = AgentName + "-bootstrap"
	fieldManager     = "flotilla-cloud"
)

// AgentOptions are the agent's images; empty takes this build's.
type AgentOptions struct {
	Image, InitImage, FilerImage string
}

// AgentSettings are what the installed agent is told.
type AgentSettings struct {
	Cluster        string
	HubURLs        []string
	BootstrapToken string
	Options        AgentOptions
}

// AgentManifests are the objects the Helm chart renders for an agent on a
// machine-type pool (deploy/helm/flotilla, agent.enabled with
// agent.jobs.nodeSelector and tolerate set to the pool's label and taint),
// in the order they are applied.
func AgentManifests(s AgentSettings) []any {
	img := func(v, name string) string {
		if v != "" {
			return v
		}
		return version.Image(name)
	}
	labels := map[string]string{"app.kubernetes.io/name": "flotilla", "app.kubernetes.io/instance": "flotilla",
		"app.kubernetes.io/component": "agent", "app.kubernetes.io/managed-by": fieldManager}
	sel := map[string]string{"app.kubernetes.io/name": "flotilla", "app.kubernetes.io/instance": "flotilla", "app.kubernetes.io/component": "agent"}
	meta := func(name, ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
	}
	sa := []rbacv1.Subject{{Kind: "ServiceAccount", Name: AgentName, Namespace: AgentNamespace}}
	ro := []string{"get", "list", "watch"}
	rw := []string{"get", "list", "watch", "create", "delete"}
	yes, no, uid := true, false, int64(65532)
	return []any{
		&corev1.Namespace{TypeMeta: tm("v1", "Namespace"), ObjectMeta: meta(AgentNamespace, "")},
		&corev1.ServiceAccount{TypeMeta: tm("v1", "ServiceAccount"), ObjectMeta: meta(AgentName, AgentNamespace)},
		&rbacv1.ClusterRole{TypeMeta: tm("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: meta(AgentName, ""), Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"nodes", "pods"}, Verbs: ro},
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: append(ro, "create")},
			{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, Verbs: []string{"get"}},
		}},
		&rbacv1.ClusterRoleBinding{TypeMeta: tm("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ObjectMeta: meta(AgentName, ""),
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: AgentName}, Subjects: sa},
		&rbacv1.Role{TypeMeta: tm("rbac.authorization.k8s.io/v1", "Role"), ObjectMeta: meta(AgentName+"-apiserver", "default"), Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services"}, ResourceNames: []string{"kubernetes"}, Verbs: []string{"get"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list"}},
		}},
		&rbacv1.RoleBinding{TypeMeta: tm("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: meta(AgentName+"-apiserver", "default"),
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: AgentName + "-apiserver"}, Subjects: sa},
		&rbacv1.ClusterRole{TypeMeta: tm("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: meta(AgentName+"-jobs", ""), Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: append(rw, "patch", "deletecollection")},
			{APIGroups: []string{""}, Resources: []string{"pods/binding"}, Verbs: []string{"create"}},
			{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"secrets", "services"}, Verbs: append(rw, "patch")},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: rw},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies", "ingresses"}, Verbs: rw},
		}},
		&rbacv1.ClusterRoleBinding{TypeMeta: tm("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ObjectMeta: meta(AgentName+"-jobs", ""),
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: AgentName + "-jobs"}, Subjects: sa},
		&corev1.Secret{TypeMeta: tm("v1", "Secret"), ObjectMeta: meta(AgentTokenSecret, AgentNamespace), Type: corev1.SecretTypeOpaque,
			StringData: map[string]string{"token": s.BootstrapToken}},
		&appsv1.Deployment{TypeMeta: tm("apps/v1", "Deployment"), ObjectMeta: meta(AgentName, AgentNamespace), Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(1)), Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel}, Spec: corev1.PodSpec{
				ServiceAccountName: AgentName, EnableServiceLinks: &no,
				SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid,
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
				Containers: []corev1.Container{{
					Name: "agent", Image: img(s.Options.Image, "flotilla-agent"), ImagePullPolicy: corev1.PullIfNotPresent,
					Args: []string{
						"-cluster=" + s.Cluster,
						"-hub=" + strings.Join(s.HubURLs, ","),
						"-agent-key-file=/var/lib/flotilla-agent/agent-key",
						"-bootstrap-token-file=/etc/flotilla/bootstrap/token",
						"-hub-ca-file=/var/lib/flotilla-agent/hub-ca.crt",
						"-namespace-prefix=flotilla",
						"-node-selector=" + LabelPool + "=" + DefaultPool,
						"-tolerate=" + LabelPool + "=" + DefaultPool + ":NoSchedule",
						"-init-image=" + img(s.Options.InitImage, "flotilla-init"),
						"-filer-image=" + img(s.Options.FilerImage, "flotilla-filer"),
					},
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
					SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
						Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
					VolumeMounts: []corev1.VolumeMount{
						{Name: "state", MountPath: "/var/lib/flotilla-agent"},
						{Name: "bootstrap", MountPath: "/etc/flotilla/bootstrap", ReadOnly: true},
					},
				}},
				Volumes: []corev1.Volume{
					{Name: "state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: new(resource.MustParse("16Mi"))}}},
					{Name: "bootstrap", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: AgentTokenSecret,
						DefaultMode: new(int32(0o440)), Items: []corev1.KeyToPath{{Key: "token", Path: "token"}}}}},
				},
			}},
		}},
	}
}

func tm(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// resources maps the kinds AgentManifests uses to their API resources.
var resources = map[string]string{
	"Namespace": "namespaces", "ServiceAccount": "serviceaccounts", "Secret": "secrets", "Deployment": "deployments",
	"ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings", "Role": "roles", "RoleBinding": "rolebindings",
}

// InstallAgent applies the agent's manifests to the cluster (server-side
// apply: a second run brings them in line) and returns the Deployment's
// namespace/name.
func InstallAgent(ctx context.Context, kube *rest.Config, s AgentSettings) (string, error) {
	dc, err := dynamic.NewForConfig(kube)
	if err != nil {
		return "", err
	}
	for _, obj := range AgentManifests(s) {
		data, err := json.Marshal(obj)
		if err != nil {
			return "", err
		}
		var head struct {
			metav1.TypeMeta
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			return "", err
		}
		gv, err := schema.ParseGroupVersion(head.APIVersion)
		if err != nil {
			return "", err
		}
		r := dc.Resource(gv.WithResource(resources[head.Kind]))
		var ri dynamic.ResourceInterface = r
		if head.Metadata.Namespace != "" {
			ri = r.Namespace(head.Metadata.Namespace)
		}
		if _, err := ri.Patch(ctx, head.Metadata.Name, types.ApplyPatchType, data,
			metav1.PatchOptions{FieldManager: fieldManager, Force: new(true)}); err != nil {
			return "", fmt.Errorf("installing the agent: %s %s: %w", head.Kind, head.Metadata.Name, err)
		}
	}
	return AgentNamespace + "/" + AgentName, nil
}

// UninstallAgent deletes the agent's namespace and cluster-wide objects
// and waits until the namespace is gone.
func UninstallAgent(ctx context.Context, kube *rest.Config, status func(string)) error {
	cs, err := kubernetes.NewForConfig(kube)
	if err != nil {
		return err
	}
	for _, n := range []string{AgentName, AgentName + "-jobs"} {
		if err := cs.RbacV1().ClusterRoleBindings().Delete(ctx, n, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err := cs.RbacV1().ClusterRoles().Delete(ctx, n, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	if err := cs.RbacV1().RoleBindings("default").Delete(ctx, AgentName+"-apiserver", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err := cs.RbacV1().Roles("default").Delete(ctx, AgentName+"-apiserver", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	err = cs.CoreV1().Namespaces().Delete(ctx, AgentNamespace, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	status("namespace " + AgentNamespace + " deleted")
	return nil
}
