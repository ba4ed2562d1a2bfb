package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/clusteragent/filer"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// maxSteps bounds the steps taken for one job in one pass; steps that
// change only the runner's own view follow each other at once.
const maxSteps = 8

// step decides and carries out the next steps for job n until it has to
// wait, a step fails, or the cluster must be observed again.
func (r *Reconciler) step(ctx context.Context, n uint64, t *tracked, secret *corev1.Secret, pods []*corev1.Pod) {
	nodeExists := func(string) bool { return true }
	if r.Nodes != nil {
		nodeExists = r.Nodes.NodeExists
	}
	o := observe(secret, pods, nodeExists)
	r.mu.Lock()
	if secret != nil && secret.UID == t.madeSecret {
		t.madeSecret, t.view.secretMade = "", time.Time{} // the informer caught up
	}
	if t.ns == "" { // a job the runner learnt of by a cancel: where it is
		if secret != nil {
			t.ns = secret.Namespace
		} else if len(pods) > 0 {
			t.ns = pods[0].Namespace
		}
	}
	r.mu.Unlock()
	for range maxSteps {
		r.mu.Lock()
		view := t.view
		r.mu.Unlock()
		view.grace = r.PlacedGrace
		d := decide(view, o, r.Now())
		again, err := r.apply(ctx, n, t, d, secret, pods)
		if err != nil && ctx.Err() == nil {
			t.log.Warn("job step failed", "step", d.Kind, "err", err)
		}
		if !again || err != nil {
			return
		}
	}
}

// apply carries out one decision; again says the next may follow at once.
func (r *Reconciler) apply(ctx context.Context, n uint64, t *tracked, d decision, secret *corev1.Secret, pods []*corev1.Pod) (again bool, err error) {
	switch d.Kind {
	case actWait:
		if t.in.Job.Array != nil {
			r.syncCancelTasks(ctx, t, headOf(pods))
		}
		r.syncSignals(ctx, t, pods)
		r.syncShares(ctx, t, secret)
		r.reportArrayProgress(ctx, t, pods)
		r.reportLiveTail(ctx, t, pods)
		return false, nil
	case actCreate:
		have := make(map[string]bool, len(pods))
		for _, p := range pods {
			have[p.Name] = true
		}
		r.mu.Lock()
		void := append([]string(nil), t.view.voidStarts...)
		r.mu.Unlock()
		err := r.createObjects(ctx, t.in, t.ns, void, have, t)
		switch {
		case err == nil:
			t.log.Info("job objects created", "namespace", t.ns, "pods_before", len(pods))
		case errors.Is(err, structs.ErrInvalid):
			r.setFinal(t, &Final{State: structs.JobCompletedWithError, ExitCode: 1, Substatus: "cannot run: " + err.Error(), Time: r.Now()}, false)
			return true, nil
		case errors.Is(err, errStartRecorded):
			t.log.Info("not creating pods", "why", err)
			return false, nil
		}
		return false, err
	case actProgress:
		for _, p := range d.Progress {
			u := structs.JobStateUpdate{State: p.State, Substatus: p.Substatus}
			if p.State == structs.JobRunning && secret != nil {
				u.ConnectURL = string(secret.Data[URLKey]) // interactive jobs only
			}
			r.send(t, u)
			t.log.Info("job progress", "state", p.State, "substatus", p.Substatus)
		}
		r.mu.Lock()
		t.view.state = d.Progress[len(d.Progress)-1].State
		if !d.StartedAt.IsZero() {
			t.view.startedAt = d.StartedAt
		}
		r.mu.Unlock()
		return false, nil
	case actEnd:
		f := *d.Final
		if !d.Recorded {
			f.LogTail = r.logTail(ctx, headOf(pods), t.in.Job.Array != nil)
			if t.in.Job.Array != nil {
				f.Array = r.readArrayProgress(ctx, headOf(pods))
			}
		}
		r.setFinal(t, &f, d.Recorded)
		t.log.Info("job ended", "state", f.State, "substatus", f.Substatus, "exit_code", f.ExitCode, "recorded", d.Recorded)
		return true, nil
	case actRecord:
		err := r.recordFinal(ctx, secret, t)
		return err == nil, err
	case actReport:
		r.mu.Lock()
		f := *t.view.final
		t.view.reported, t.view.state = true, f.State
		r.mu.Unlock()
		r.reportFinal(t, &f)
		t.log.Info("job end reported", "state", f.State)
		return true, nil
	case actStopPods:
		if err := r.deleteJobPods(ctx, t, n); err != nil {
			return false, fmt.Errorf("stop pods: %w", err)
		}
		r.mu.Lock()
		t.view.podsStopped = true
		r.mu.Unlock()
		return true, nil
	case actCleanup:
		return false, r.cleanup(ctx, n, t, secret)
	case actForget:
		r.forget(n, t)
		t.log.Debug("job forgotten: its objects are gone")
		return false, nil
	}
	return false, fmt.Errorf("runtime: unknown step %q", d.Kind)
}

// setFinal fixes the job's end.
func (r *Reconciler) setFinal(t *tracked, f *Final, recorded bool) {
	r.mu.Lock()
	t.view.final, t.view.recorded = f, recorded
	r.mu.Unlock()
}

// recordFinal writes the final state on the job Secret and has the API
// server confirm it. The patch names the observed Secret's uid, which
// cannot change: a Secret made anew under the name refuses it.
func (r *Reconciler) recordFinal(ctx context.Context, secret *corev1.Secret, t *tracked) error {
	r.mu.Lock()
	f := *t.view.final
	r.mu.Unlock()
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"uid":         secret.UID,
		"annotations": map[string]string{podgroup.AnnotFinal: f.encode()},
	}})
	if err != nil {
		return err
	}
	_, err = r.Client.CoreV1().Secrets(secret.Namespace).Patch(ctx, secret.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("record the final state on secret %s: %w", secret.Name, err)
	}
	r.mu.Lock()
	t.view.recorded = true // or the Secret is gone: nothing to hold it
	r.mu.Unlock()
	return nil
}

// report hands one state change to the report hook.
func (r *Reconciler) report(t *tracked, s structs.JobState, sub string, code int, tail string) {
	r.send(t, structs.JobStateUpdate{State: s, Substatus: sub, ExitCode: code, LogTail: tail})
}

// reportFinal reports the job's end, with an array job's last counts.
func (r *Reconciler) reportFinal(t *tracked, f *Final) {
	r.send(t, structs.JobStateUpdate{State: f.State, Substatus: f.Substatus, ExitCode: f.ExitCode,
		LogTail: f.LogTail, Array: f.Array})
}

func (r *Reconciler) send(t *tracked, u structs.JobStateUpdate) {
	if r.Report == nil || t.in.Job.ID == "" {
		return
	}
	u.Cluster = r.Cluster
	if u.Cluster == "" {
		u.Cluster = t.in.Job.Cluster
	}
	u.ID, u.Number, u.Time = t.in.Job.ID, t.in.Job.Number, r.Now()
	if u.State == structs.JobRunning {
		r.mu.Lock()
		t.runningSub = u.Substatus // a live tail report keeps it
		r.mu.Unlock()
	}
	r.Report(u)
}

// cleanup deletes an acknowledged job's objects: its Secret (on condition
// that it is the one observed), whose dependents the garbage collector then
// deletes, and its pods at once.
func (r *Reconciler) cleanup(ctx context.Context, n uint64, t *tracked, secret *corev1.Secret) error {
	if secret != nil && secret.DeletionTimestamp == nil {
		bg := metav1.DeletePropagationBackground
		err := r.Client.CoreV1().Secrets(secret.Namespace).Delete(ctx, secret.Name, metav1.DeleteOptions{
			PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &secret.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete job secret: %w", err)
		}
	}
	if err := r.deleteJobPods(ctx, t, n); err != nil {
		return fmt.Errorf("delete job pods: %w", err)
	}
	r.mu.Lock()
	t.view.cleaned = true
	r.mu.Unlock()
	t.log.Info("job objects deleted: the hub has its end")
	if r.Filer != nil && filer.Needed(t.in.Vault) {
		r.Filer.Poke()
	}
	return nil
}

// deleteJobPods deletes the job's pods in its namespace (none when the
// runner never learnt where the job is: it has no objects then).
func (r *Reconciler) deleteJobPods(ctx context.Context, t *tracked, n uint64) error {
	r.mu.Lock()
	ns := t.ns
	r.mu.Unlock()
	if ns == "" {
		return nil
	}
	return r.Pods.DeleteJobPods(ctx, ns, n)
}

// forget stops tracking a job whose objects are gone; a newer assignment
// of it starts now, else a tombstone keeps a late redelivery away.
func (r *Reconciler) forget(n uint64, t *tracked) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jobs[n] != t {
		return
	}
	if t.next != nil {
		r.jobs[n] = t.next
		return
	}
	delete(r.jobs, n)
	state := t.view.state
	if t.view.final != nil {
		state = t.view.final.State
	}
	if t.view.assigned || t.view.final != nil {
		r.tombs[n] = tombstone{assigned: t.in.Job.AssignTime, state: state}
	}
}

func headOf(pods []*corev1.Pod) *corev1.Pod {
	for _, p := range pods {
		if p.Labels[podgroup.LabelRank] == "0" {
			return p
		}
	}
	return nil
}

// readFinalLog reads the head's log for the final tail. A read that ran
// out of its time is tried once more with twice the time: the final tail
// is kept with the job for good, and on a loaded node the kubelet may
// answer later than the first limit. A read refused at once (no kubelet,
// no log) is not tried again.
func (r *Reconciler) readFinalLog(ctx context.Context, head *corev1.Pod, lines, limit int64, timeout time.Duration) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		b, err := r.readLog(rctx, head, head.Spec.Containers[0].Name, lines, limit)
		timedOut := errors.Is(rctx.Err(), context.DeadlineExceeded)
		cancel()
		if err == nil || attempt > 0 || !timedOut || ctx.Err() != nil {
			return b, err
		}
		r.podLog(head).Info("head log read ran out of time, trying again", "pod", head.Name, "timeout", timeout)
		timeout *= 2
	}
}

// maxLogTailBytes bounds the log tail kept with a job.
const maxLogTailBytes = 16 << 10

// logTail returns the last lines of the head's app container log, or ""
// when there is no bound head or its log cannot be read (no kubelet, no
// logs). An array job's head log is read further (its output lines are
// long) and its progress and output lines are dropped before the tail is
// cut to maxLogTailBytes.
func (r *Reconciler) logTail(ctx context.Context, head *corev1.Pod, array bool) string {
	if head == nil || head.Spec.NodeName == "" || len(head.Spec.Containers) == 0 {
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
	limit := int64(maxLogTailBytes)
	if array {
		limit = arrayLogReadBytes
	}
	b, err := r.readFinalLog(ctx, head, lines, limit, timeout)
	if err != nil {
		r.podLog(head).Debug("head log unavailable", "pod", head.Name, "err", err)
		return ""
	}
	tail := string(b)
	if array {
		tail = stripArrayLines(tail)
	}
	return strings.ToValidUTF8(clipTail(tail, int(lines), maxLogTailBytes), "\uFFFD")
}
