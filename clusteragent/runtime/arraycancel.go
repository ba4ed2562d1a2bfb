package runtime

import (
	"context"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Canceling tasks of an array job. The hub keeps the canceled indices on
// the job (Job.Array.CancelTasks, ranges that only grow); the agent copies
// them onto the head pod's annotation AnnotCancelTasks, which a
// downward-API volume shows the head's flotilla-init as the file
// ArrayCancelPath (the kubelet rewrites it when the annotation changes);
// flotilla-init reads it every second and hands new indices to its
// dispatcher. The agent never reaches into the pod network.
const (
	AnnotCancelTasks = "flotilla.io/cancel-tasks"
	ArrayControlDir  = FlotillaDir + "/array"
	ArrayCancelPath  = ArrayControlDir + "/" + arrayCancelFile
	arrayCancelFile  = "cancel-tasks"
	volArrayControl  = "flotilla-array-control"
)

// Requests for task outputs take the same path: the job's unanswered
// requests (Job.Array.OutputRequests, as structs.FormatOutputRequests
// writes them) go on the head pod's annotation AnnotOutputTasks, which
// the head reads as ArrayOutputPath and answers in its log (see
// arrayoutput.go).
const (
	AnnotOutputTasks = "flotilla.io/output-tasks"
	ArrayOutputPath  = ArrayControlDir + "/" + arrayOutputFile
	arrayOutputFile  = "output-tasks"
)

// arrayControlVolume is the head's downward-API volume of the annotation.
func arrayControlVolume() corev1.Volume {
	return corev1.Volume{Name: volArrayControl, VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
		Items: []corev1.DownwardAPIVolumeFile{{Path: arrayCancelFile,
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + AnnotCancelTasks + "']"}},
			{Path: arrayOutputFile,
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + AnnotOutputTasks + "']"}}},
		DefaultMode: new(int32(0o444)),
	}}}
}

// arrayControlMount mounts it whole (no subPath), so updates reach it.
func arrayControlMount() corev1.VolumeMount {
	return corev1.VolumeMount{Name: volArrayControl, MountPath: ArrayControlDir, ReadOnly: true}
}

// syncCancelTasks puts the job's canceled tasks and requested task
// outputs on its running head pod's annotations when they differ.
func (r *Reconciler) syncCancelTasks(ctx context.Context, t *tracked, head *corev1.Pod) {
	r.mu.Lock()
	want := map[string]string{AnnotCancelTasks: t.cancelTasks, AnnotOutputTasks: t.outputTasks}
	r.mu.Unlock()
	if head == nil || head.DeletionTimestamp != nil || head.Status.Phase != corev1.PodRunning {
		return
	}
	for k, v := range want {
		if v == "" || head.Annotations[k] == v { // a list is never taken back
			delete(want, k)
		}
	}
	if len(want) == 0 {
		return
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": want}})
	if _, err := r.Client.CoreV1().Pods(head.Namespace).Patch(ctx, head.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		r.Log.Warn("canceled tasks or output requests not handed to the head", "pod", head.Name, "err", err)
		return
	}
	r.Log.Info("canceled tasks or output requests handed to the head", "pod", head.Name,
		"tasks", want[AnnotCancelTasks], "outputs", want[AnnotOutputTasks])
}
