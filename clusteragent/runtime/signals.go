package runtime

import (
	"context"
	"encoding/json"
	"time"

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
//
// A job with a signal before the walltime ends (structs.Job.SignalAt)
// has a second annotation, AnnotJobStart: the earliest start of its pods,
// which the walltime counts from, shown as JobStartPath in the same
// volume (initproc/signal_at.go).
const (
	AnnotSignals  = "flotilla.io/signals"
	AnnotJobStart = "flotilla.io/job-start"
	SignalDir     = FlotillaDir + "/signal"
	SignalsPath   = SignalDir + "/" + signalsFile
	JobStartPath  = SignalDir + "/" + jobStartFile
	signalsFile   = "requests"
	jobStartFile  = "job-start"
	volSignals    = "flotilla-signals"
)

// signalsVolume is every pod's downward-API volume of the annotation (and
// of the job's start, withStart).
func signalsVolume(withStart bool) corev1.Volume {
	items := []corev1.DownwardAPIVolumeFile{{Path: signalsFile,
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + AnnotSignals + "']"}}}
	if withStart {
		items = append(items, corev1.DownwardAPIVolumeFile{Path: jobStartFile,
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + AnnotJobStart + "']"}})
	}
	return corev1.Volume{Name: volSignals, VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
		Items: items, DefaultMode: new(int32(0o444)),
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

// syncSignals puts the job's signal requests, and for a job with a signal
// before the walltime ends its start, on each of its running pods whose
// annotations differ (a pod that is not running yet gets them once it
// runs: flotilla-init reads them when it starts the job's processes).
func (r *Reconciler) syncSignals(ctx context.Context, t *tracked, pods []*corev1.Pod) {
	r.mu.Lock()
	want := t.signals
	r.mu.Unlock()
	var start string
	if _, ok := t.in.Job.SignalAt(); ok {
		start = podsStart(pods)
	}
	if want == "" && start == "" {
		return
	}
	annots := map[string]string{}
	if want != "" {
		annots[AnnotSignals] = want
	}
	if start != "" {
		annots[AnnotJobStart] = start
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annots}})
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning ||
			(want == "" || p.Annotations[AnnotSignals] == want) && (start == "" || p.Annotations[AnnotJobStart] == start) {
			continue
		}
		if _, err := r.Client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.log.Warn("signal requests not handed to the pod", "pod", p.Name, "err", err)
			continue
		}
		t.log.Info("signal requests handed to the pod", "pod", p.Name, "requests", want, "job_start", start)
	}
}

// podsStart is the earliest start of the pods (RFC 3339), which the
// walltime counts from; "" when none started.
func podsStart(pods []*corev1.Pod) string {
	var first time.Time
	for _, p := range pods {
		if s := p.Status.StartTime; s != nil && (first.IsZero() || s.Time.Before(first)) {
			first = s.Time
		}
	}
	if first.IsZero() {
		return ""
	}
	return first.UTC().Format(time.RFC3339)
}
