package runtime

import (
	"context"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Signals to running jobs take the path of array task cancels
// (arraycancel.go): the hub keeps the job's last requests (Job.Signals,
// each with its sequence number); the agent writes them, whole, on every
// running pod of the job as the annotation AnnotSignals
// (structs.FormatSignals: "SEQ SIGNAL SCOPE" lines); a downward-API
// volume shows it to flotilla-init as the file SignalsPath, which it
// reads every second, delivering each request whose number is past the
// last it delivered (remembered in its run directory). Rewriting the
// annotation whole after an agent restart, or reading it again after a
// flotilla-init restart, therefore delivers nothing twice.
const (
	AnnotSignals = "flotilla.io/signals"
	SignalDir    = FlotillaDir + "/signal"
	SignalsPath  = SignalDir + "/" + signalsFile
	signalsFile  = "requests"
	volSignals   = "flotilla-signals"
)

// signalsVolume is every pod's downward-API volume of the annotation.
func signalsVolume() corev1.Volume {
	return corev1.Volume{Name: volSignals, VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
		Items: []corev1.DownwardAPIVolumeFile{{Path: signalsFile,
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + AnnotSignals + "']"}}},
		DefaultMode: new(int32(0o444)),
	}}}
}

// signalsMount mounts it whole (no subPath), so updates reach it.
func signalsMount() corev1.VolumeMount {
	return corev1.VolumeMount{Name: volSignals, MountPath: SignalDir, ReadOnly: true}
}

// signalsOf is the annotation value of j's signal requests.
func signalsOf(j *structs.Job) string {
	if j == nil {
		return ""
	}
	return structs.FormatSignals(j.Signals)
}

// syncSignals puts the job's signal requests on each of its running pods
// whose annotation differs (a pod that is not running yet gets them once
// it runs: flotilla-init reads them when it starts the job's processes).
func (r *Reconciler) syncSignals(ctx context.Context, t *tracked, pods []*corev1.Pod) {
	r.mu.Lock()
	want := t.signals
	r.mu.Unlock()
	if want == "" {
		return
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotSignals: want}}})
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || p.Annotations[AnnotSignals] == want {
			continue
		}
		if _, err := r.Client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.log.Warn("signal requests not handed to the pod", "pod", p.Name, "err", err)
			continue
		}
		t.log.Info("signal requests handed to the pod", "pod", p.Name, "requests", want)
	}
}
