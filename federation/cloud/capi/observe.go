package capi

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
)

// The Cluster API resources the controller reads.
var (
	clustersGVR           = clusterv1.GroupVersion.WithResource("clusters")
	machineDeploymentsGVR = clusterv1.GroupVersion.WithResource("machinedeployments")
	secretsGVR            = corev1.SchemeGroupVersion.WithResource("secrets")
)

// KubeconfigSecretName is the Secret in which Cluster API keeps a
// Cluster's admin kubeconfig (key KubeconfigKey), in the Cluster's namespace.
func KubeconfigSecretName(cluster string) string { return cluster + "-kubeconfig" }

// KubeconfigKey is the kubeconfig's key in that Secret.
const KubeconfigKey = "value"

// mgmt reads the management cluster.
type mgmt struct {
	dyn       dynamic.Interface
	namespace string // "" for all
	selector  labels.Selector
}

// list returns the selected Clusters and every MachineDeployment
// of their namespaces (by namespace/clusterName), and the resource
// versions to watch from.
func (m *mgmt) list(ctx context.Context) ([]*clusterv1.Cluster, map[string][]*clusterv1.MachineDeployment, [2]string, error) {
	var rv [2]string
	ul, err := m.dyn.Resource(clustersGVR).Namespace(m.namespace).List(ctx, metav1.ListOptions{LabelSelector: m.selector.String()})
	if err != nil {
		return nil, nil, rv, fmt.Errorf("list Cluster API Clusters: %w", err)
	}
	rv[0] = ul.GetResourceVersion()
	var clusters []*clusterv1.Cluster
	for i := range ul.Items {
		c := &clusterv1.Cluster{}
		if err := fromUnstructured(&ul.Items[i], c); err != nil {
			return nil, nil, rv, err
		}
		clusters = append(clusters, c)
	}
	ml, err := m.dyn.Resource(machineDeploymentsGVR).Namespace(m.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, rv, fmt.Errorf("list Cluster API MachineDeployments: %w", err)
	}
	rv[1] = ml.GetResourceVersion()
	mds := map[string][]*clusterv1.MachineDeployment{}
	for i := range ml.Items {
		md := &clusterv1.MachineDeployment{}
		if err := fromUnstructured(&ml.Items[i], md); err != nil {
			return nil, nil, rv, err
		}
		k := md.Namespace + "/" + md.Spec.ClusterName
		mds[k] = append(mds[k], md)
	}
	return clusters, mds, rv, nil
}

func fromUnstructured(u *unstructured.Unstructured, into any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		return fmt.Errorf("read %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// kubeconfig returns a Cluster's kubeconfig from its Secret; found is
// false while the Secret or its key does not exist.
func (m *mgmt) kubeconfig(ctx context.Context, c *clusterv1.Cluster) (data []byte, found bool, err error) {
	u, err := m.dyn.Resource(secretsGVR).Namespace(c.Namespace).Get(ctx, KubeconfigSecretName(c.Name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read Secret %s/%s: %w", c.Namespace, KubeconfigSecretName(c.Name), err)
	}
	s := &corev1.Secret{}
	if err := fromUnstructured(u, s); err != nil {
		return nil, false, err
	}
	data, found = s.Data[KubeconfigKey]
	return data, found && len(data) > 0, nil
}

// provisioned says whether a Cluster is ready to have an agent installed,
// and if not, why.
func provisioned(c *clusterv1.Cluster) (bool, string) {
	phase := c.Status.Phase
	if phase == "" {
		phase = string(clusterv1.ClusterPhasePending)
	}
	if clusterv1.ClusterPhase(phase) != clusterv1.ClusterPhaseProvisioned {
		return false, fmt.Sprintf("phase %s, waiting for Provisioned", phase)
	}
	if init := c.Status.Initialization.ControlPlaneInitialized; init == nil || !*init {
		return false, "control plane not initialized yet"
	}
	return true, ""
}

// observe condenses one Cluster for Decide; hasKubeconfig says whether
// its kubeconfig Secret exists.
func observe(c *clusterv1.Cluster, mds []*clusterv1.MachineDeployment, hasKubeconfig bool) Observed {
	o := Observed{Source: c.Namespace + "/" + c.Name, Name: c.Name, Deleting: c.DeletionTimestamp != nil}
	o.Ready, o.NotReady = provisioned(c)
	if o.Ready && !hasKubeconfig {
		o.Ready, o.NotReady = false, fmt.Sprintf("Secret %s has no kubeconfig yet", KubeconfigSecretName(c.Name))
	}
	o.MachineTypes, o.Problems = machineTypesOf(mds, c.Name)
	return o
}
