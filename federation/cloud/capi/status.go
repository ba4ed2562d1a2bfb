package capi

import (
	"context"
	"encoding/json"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
)

// AnnotStatus is written on each selected Cluster: where its joining
// stands, in one line ("waiting: ...", "refused: ...", "error: ...",
// "agent installed, waiting for it to connect", "joined").
const AnnotStatus = "flotilla.io/hub-status"

// statusOf says where a Cluster's joining stands after a pass: its
// actions, their first error, and whether its agent has registered.
func statusOf(actions []Action, err error, registered bool) string {
	for _, a := range actions {
		switch a.Kind {
		case Wait:
			return "waiting: " + a.Reason
		case Refuse:
			return "refused: " + a.Reason
		}
	}
	switch {
	case err != nil:
		return "error: " + err.Error()
	case registered:
		return "joined"
	default:
		return "agent installed, waiting for it to connect"
	}
}

// setStatus writes s on the Cluster unless it is there already.
func (m *mgmt) setStatus(ctx context.Context, c *clusterv1.Cluster, s string) error {
	s = strings.ReplaceAll(s, "\n", " ")
	if c.Annotations[AnnotStatus] == s || c.DeletionTimestamp != nil {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotStatus: s}}})
	if err != nil {
		return err
	}
	_, err = m.dyn.Resource(clustersGVR).Namespace(c.Namespace).Patch(ctx, c.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}
