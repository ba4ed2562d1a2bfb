package runtime

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc/arraytask"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// An array job's head prints its dispatcher's progress as a line starting
// with arraytask.ProgressMarker every second it changes, and once more as
// its last line. The runner reads the last such line from the head's log
// (through the API server, as the log tail) and reports it to the hub.

// arrayProgressEvery bounds how often the runner reads a running array
// job's progress.
const arrayProgressEvery = 2 * time.Second

// progressLines is how many of the head's last log lines are searched.
const progressLines = 8

// parseArrayProgress returns the last progress line of log, nil if none.
// Pure.
func parseArrayProgress(log string) *structs.ArrayProgress {
	for rest := log; rest != ""; {
		i := strings.LastIndex(rest, arraytask.ProgressMarker)
		if i < 0 {
			return nil
		}
		line := rest[i+len(arraytask.ProgressMarker):]
		if nl := strings.IndexByte(line, '\n'); nl >= 0 {
			line = line[:nl]
		}
		var p structs.ArrayProgress
		if json.Unmarshal([]byte(line), &p) == nil && p.Total > 0 {
			return &p
		}
		rest = rest[:i] // a torn line: try the one before
	}
	return nil
}

// stripProgress drops the progress lines from a log tail: the job record
// carries their content as counts.
func stripProgress(log string) string {
	if !strings.Contains(log, arraytask.ProgressMarker) {
		return log
	}
	lines := strings.SplitAfter(log, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, arraytask.ProgressMarker) {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "")
}

// readArrayProgress reads the last progress line of the head's log.
func (r *Reconciler) readArrayProgress(ctx context.Context, head *corev1.Pod) *structs.ArrayProgress {
	if head == nil || head.Spec.NodeName == "" || len(head.Spec.Containers) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultLogTailTimeout)
	defer cancel()
	b, err := r.Client.CoreV1().Pods(head.Namespace).GetLogs(head.Name, &corev1.PodLogOptions{
		Container: head.Spec.Containers[0].Name, TailLines: new(int64(progressLines)),
	}).DoRaw(ctx)
	if err != nil {
		r.podLog(head).Debug("head log unavailable", "pod", head.Name, "err", err)
		return nil
	}
	return parseArrayProgress(string(b))
}

// reportArrayProgress reports a running array job's progress when it
// changed, at most every arrayProgressEvery.
func (r *Reconciler) reportArrayProgress(ctx context.Context, t *tracked, pods []*corev1.Pod) {
	r.mu.Lock()
	due := t.in.Job.Array != nil && t.view.final == nil && t.view.state == structs.JobRunning &&
		r.Now().Sub(t.progressAt) >= arrayProgressEvery
	if due {
		t.progressAt = r.Now()
	}
	r.mu.Unlock()
	if !due {
		return
	}
	p := r.readArrayProgress(ctx, headOf(pods))
	if p == nil {
		return
	}
	b, _ := json.Marshal(p)
	r.mu.Lock()
	changed := string(b) != t.progress
	t.progress = string(b)
	r.mu.Unlock()
	if changed {
		r.reportArray(t, structs.JobRunning, "array running", p)
	}
}
