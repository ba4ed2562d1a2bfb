package agentinstall

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// resources maps the kinds Render makes to their API resources, so an
// install needs no discovery.
var resources = map[string]string{
	"Namespace": "namespaces", "ServiceAccount": "serviceaccounts", "Secret": "secrets",
	"ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings",
	"Role": "roles", "RoleBinding": "rolebindings", "Deployment": "deployments",
}

// Install renders v and applies every object to the cluster cfg reaches,
// in order, with server-side apply (field manager "flotilla", forced):
// running it again updates the install, e.g. with a new bootstrap token.
func Install(ctx context.Context, cfg *rest.Config, v Values) error {
	objs, err := Render(v)
	if err != nil {
		return err
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	return Apply(ctx, dc, objs)
}

// Apply applies objs in order with server-side apply.
func Apply(ctx context.Context, dc dynamic.Interface, objs []runtime.Object) error {
	force := true
	for _, o := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{Object: m}
		unstructured.RemoveNestedField(u.Object, "status")
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
		gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
		if err != nil {
			return err
		}
		res, ok := resources[u.GetKind()]
		if !ok {
			return fmt.Errorf("agentinstall: no resource known for kind %s", u.GetKind())
		}
		var ri dynamic.ResourceInterface = dc.Resource(gv.WithResource(res))
		if ns := u.GetNamespace(); ns != "" {
			ri = dc.Resource(gv.WithResource(res)).Namespace(ns)
		}
		if _, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: force}); err != nil {
			return fmt.Errorf("apply %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

// Uninstall deletes what Install made for v's release: the cluster-wide
// objects, the apiserver Role and binding, and the agent's namespace
// (with its Deployment, ServiceAccount and Secret). Objects already gone
// are not an error.
func Uninstall(ctx context.Context, cfg *rest.Config, v Values) error {
	if v.Release == "" {
		v.Release = "flotilla"
	}
	if v.Namespace == "" {
		v.Namespace = "flotilla"
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	name := AgentName(v.Release)
	rbac := func(res string) dynamic.NamespaceableResourceInterface {
		return dc.Resource(schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: res})
	}
	dels := []struct {
		ri   dynamic.ResourceInterface
		name string
	}{
		{rbac("clusterrolebindings"), name}, {rbac("clusterrolebindings"), name + "-jobs"},
		{rbac("clusterroles"), name}, {rbac("clusterroles"), name + "-jobs"},
		{rbac("rolebindings").Namespace("default"), name + "-apiserver"}, {rbac("roles").Namespace("default"), name + "-apiserver"},
		{dc.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}), v.Namespace},
	}
	for _, d := range dels {
		if err := d.ri.Delete(ctx, d.name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("uninstall %s: %w", d.name, err)
		}
	}
	return nil
}
