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

// readArrayProgress reads the last progress line of the head's log.
func (r *Reconciler) readArrayProgress(ctx context.Context, head *corev1.Pod) *structs.ArrayProgress {
	log, ok := r.readHeadLog(ctx, head, progressLines)
	if !ok {
		return nil
	}
	return parseArrayProgress(log)
}

// readHeadLog reads the last lines of the head's log (at most
// arrayLogReadBytes).
func (r *Reconciler) readHeadLog(ctx context.Context, head *corev1.Pod, lines int64) (string, bool) {
	if head == nil || head.Spec.NodeName == "" || len(head.Spec.Containers) == 0 {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultLogTailTimeout)
	defer cancel()
	b, err := r.readLog(ctx, head, head.Spec.Containers[0].Name, lines, arrayLogReadBytes)
	if err != nil {
		r.podLog(head).Debug("head log unavailable", "pod", head.Name, "err", err)
		return "", false
	}
	return string(b), true
}

// reportArrayProgress reports a running array job's progress when it
// changed, and the head's answers to requests for task outputs, at most
// every arrayProgressEvery.
func (r *Reconciler) reportArrayProgress(ctx context.Context, t *tracked, pods []*corev1.Pod) {
	r.mu.Lock()
	due := t.in.Job.Array != nil && t.view.final == nil && t.view.state == structs.JobRunning &&
		r.Now().Sub(t.progressAt) >= arrayProgressEvery
	if due {
		t.progressAt = r.Now()
	}
	requested := t.outputTasks
	r.mu.Unlock()
	if !due {
		return
	}
	lines := int64(progressLines)
	if requested != "" {
		lines = outputLines
	}
	log, ok := r.readHeadLog(ctx, headOf(pods), lines)
	if !ok {
		return
	}
	p := parseArrayProgress(log)
	var b []byte
	if p != nil {
		b, _ = json.Marshal(p)
	}
	r.mu.Lock()
	outs := newOutputs(parseArrayOutputs(log), requested, t.outputsSent)
	for _, o := range outs {
		if t.outputsSent == nil {
			t.outputsSent = map[int]uint64{}
		}
		t.outputsSent[o.Index] = o.Seq
	}
	changed := p != nil && string(b) != t.progress
	if p != nil {
		t.progress = string(b)
	}
	r.mu.Unlock()
	if changed || len(outs) > 0 {
		if !changed {
			p = nil // the recorded progress stands
		}
		r.send(t, structs.JobStateUpdate{State: structs.JobRunning, Substatus: "array running", Array: p, Outputs: outs})
	}
}
