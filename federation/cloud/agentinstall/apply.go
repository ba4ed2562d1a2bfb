package agentinstall

import (
	"context"
	"fmt"

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
