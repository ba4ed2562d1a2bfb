package runtime

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/filer"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// finish ends a job once: it reads the head's log tail while the head still
// exists, reports the final state with it, and removes the job's objects.
func (r *Reconciler) finish(ctx context.Context, t *tracked, o observation, s structs.JobState, sub string, code int) error {
	tail := r.logTail(ctx, o.head)
	if !r.transition(t, s, sub, code, tail) {
		r.mu.Lock()
		if !t.ended { // the hub's state forbids this end; stop anyway
			r.Log.Warn("job end not reportable from its state", "job", t.spec.Job.Number, "state", t.state, "end", s)
			t.ended, t.endedAt = true, r.Now()
		}
		r.mu.Unlock()
	}
	return r.cleanup(ctx, t)
}

// cancel ends a job the hub stopped: TERMINATED once it started (pods bound
// or a start reported), CANCELED before.
func (r *Reconciler) cancel(ctx context.Context, t *tracked, pods []*corev1.Pod) error {
	o := observe(pods)
	r.mu.Lock()
	started := t.state.Started()
	r.mu.Unlock()
	if started || o.bound > 0 {
		return r.finish(ctx, t, o, structs.JobTerminated, "terminated by request", 0)
	}
	return r.finish(ctx, t, o, structs.JobCanceled, "canceled by request", 0)
}

// cleanup removes an ended job's objects: the job Secret, whose dependents
// the garbage collector then deletes, and the pods at once, so their nodes
// are freed without waiting for it. Once both calls succeed the job is no
// longer reconciled, and the filer of its vault is told to recount.
func (r *Reconciler) cleanup(ctx context.Context, t *tracked) error {
	n := t.spec.Job.Number
	bg := metav1.DeletePropagationBackground
	err := r.Client.CoreV1().Secrets(r.Options.Namespace).Delete(ctx, podgroup.JobName(n), metav1.DeleteOptions{PropagationPolicy: &bg})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete job secret: %w", err)
	}
	sel := fmt.Sprintf("%s=true,%s=%d", podgroup.LabelManaged, podgroup.LabelJob, n)
	if err := r.Client.CoreV1().Pods(r.Options.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg},
		metav1.ListOptions{LabelSelector: sel}); err != nil {
		return fmt.Errorf("delete job pods: %w", err)
	}
	r.mu.Lock()
	t.cleaned = true
	r.mu.Unlock()
	if r.Filer != nil && filer.Needed(t.spec.Vault) {
		r.Filer.Poke()
	}
	return nil
}

// maxLogTailBytes bounds the log tail kept with a job.
const maxLogTailBytes = 16 << 10

// logTail returns the last lines of the head's app container log, or ""
// when there is no head or its log cannot be read (no kubelet, no logs).
func (r *Reconciler) logTail(ctx context.Context, head *corev1.Pod) string {
	if head == nil || head.Spec.NodeName == "" {
		return ""
	}
	lines := int64(r.LogTailLines)
	if lines <= 0 {
		lines = DefaultLogTailLines
	}
	timeout := r.LogTailTimeout
	if timeout <= 0 {
		timeout = DefaultLogTailTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b, err := r.Client.CoreV1().Pods(r.Options.Namespace).GetLogs(head.Name, &corev1.PodLogOptions{
		Container: head.Spec.Containers[0].Name, TailLines: &lines, LimitBytes: new(int64(maxLogTailBytes)),
	}).DoRaw(ctx)
	if err != nil {
		r.Log.Debug("head log unavailable", "pod", head.Name, "err", err)
		return ""
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
