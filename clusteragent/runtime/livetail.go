package runtime

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// While a job runs, the runner reads its head's log tail every
// LiveTailEvery and reports it when it changed (a RUNNING report with the
// tail and the running substatus), so /jarvice/tail, GET /v1/jobs/{id}
// and the portal's job page show the latest lines of a running job. The
// tail is bounded like the final one: the last LogTailLines lines, at
// most maxLogTailBytes.

// DefaultLiveTailEvery is how often a running job's log tail is read.
const DefaultLiveTailEvery = 10 * time.Second

// LogReader reads the last lines of a container's log, at most limitBytes
// (the runner clips what it gets to both bounds again).
type LogReader func(ctx context.Context, pod *corev1.Pod, container string, lines, limitBytes int64) ([]byte, error)

// readLog reads a container's log tail through Logs, or the API server.
func (r *Reconciler) readLog(ctx context.Context, pod *corev1.Pod, container string, lines, limitBytes int64) ([]byte, error) {
	if r.Logs != nil {
		return r.Logs(ctx, pod, container, lines, limitBytes)
	}
	return r.Client.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{
		Container: container, TailLines: &lines, LimitBytes: &limitBytes,
	}).DoRaw(ctx)
}

// clipTail keeps the last lines of log (all for lines <= 0) within
// maxBytes, starting at a line boundary when it has to cut. Pure.
func clipTail(log string, lines int, maxBytes int) string {
	if lines > 0 {
		idx := len(log)
		trimmed := strings.TrimSuffix(log, "\n")
		for range lines {
			idx = strings.LastIndexByte(trimmed[:min(idx, len(trimmed))], '\n')
			if idx < 0 {
				break
			}
		}
		if idx >= 0 {
			log = log[idx+1:]
		}
	}
	if len(log) > maxBytes {
		log = log[len(log)-maxBytes:]
		if i := strings.IndexByte(log, '\n'); i >= 0 && i < len(log)-1 {
			log = log[i+1:]
		}
	}
	return log
}

// reportLiveTail reports a running job's log tail when it changed, at
// most every LiveTailEvery (a negative LiveTailEvery turns it off).
func (r *Reconciler) reportLiveTail(ctx context.Context, t *tracked, pods []*corev1.Pod) {
	every := r.LiveTailEvery
	if every == 0 {
		every = DefaultLiveTailEvery
	}
	if every < 0 {
		return
	}
	r.mu.Lock()
	due := t.view.final == nil && t.view.state == structs.JobRunning && r.Now().Sub(t.tailAt) >= every
	if due {
		t.tailAt = r.Now()
	}
	sub := t.runningSub
	r.mu.Unlock()
	if !due {
		return
	}
	tail := r.logTail(ctx, headOf(pods), t.in.Job.Array != nil)
	if tail == "" {
		return
	}
	r.mu.Lock()
	changed := tail != t.tail && t.view.final == nil
	t.tail = tail
	r.mu.Unlock()
	if changed {
		r.send(t, structs.JobStateUpdate{State: structs.JobRunning, Substatus: sub, LogTail: tail})
	}
}
