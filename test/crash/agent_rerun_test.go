package crash

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// TestNoRerunAfterAgentRestart: a 2-node job runs; every hub replica is
// SIGKILLed, so the job's head exits 0 while the hub is unreachable from
// its agent; the agent records the end on the job Secret, stops the pods,
// and is SIGKILLed before any report got through. Hub and agent start again: the hub
// records COMPLETED, once and for good (the job's record does not change
// again), the job's objects are removed after that, and none of its pods
// was ever created twice.
func TestNoRerunAfterAgentRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("requires a real control plane and the built binaries; skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	var nodes []k8senv.NodeSpec
	for i := range 4 {
		nodes = append(nodes, k8senv.NodeSpec{Name: fmt.Sprintf("n%d", i), CPU: "8", Memory: "32Gi"})
	}
	r := startAgentRig(ctx, t, 3, nodes, &structs.MachineType{Name: "n8", Cores: 8, Slots: 8, RAM: 16, ScaleMax: 4})
	job := r.submit(ctx, t, "rerun-1", 2)
	job = r.waitJob(ctx, t, job.ID, "running", func(j *structs.Job) bool { return j.State == structs.JobRunning })
	secrets := r.env.Client.CoreV1().Secrets(jobsNS)
	name := podgroup.JobName(job.Number)

	// The hub goes away; the job ends meanwhile.
	for i := range r.hubs.N() {
		r.hubs.Kill(i)
	}
	r.complete(ctx, t, job.Number)
	waitUntil(ctx, t, time.Minute, "the ended job's pods removed", func() (bool, string) {
		l, err := r.env.Client.CoreV1().Pods(jobsNS).List(ctx, metav1.ListOptions{LabelSelector: podgroup.LabelJob + "=" + fmt.Sprint(job.Number)})
		if err != nil {
			return false, err.Error()
		}
		return len(l.Items) == 0, fmt.Sprintf("%d pods", len(l.Items))
	})
	r.agent.Kill()
	if s, err := secrets.Get(ctx, name, metav1.GetOptions{}); err != nil || s.DeletionTimestamp != nil || s.Annotations[podgroup.AnnotFinal] == "" {
		t.Errorf("the job Secret must outlive the unacknowledged end and record it: %v", err)
	}

	// Everything comes back.
	for i := range r.hubs.N() {
		if err := r.hubs.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.hubs.Leader(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.agent.Start(); err != nil {
		t.Fatal(err)
	}
	done := r.waitJob(ctx, t, job.ID, "completed", func(j *structs.Job) bool { return j.State.IsTerminal() })
	if done.State != structs.JobCompleted || done.ExitCode != 0 {
		t.Fatalf("job ended %s (exit %d, %q), want COMPLETED", done.State, done.ExitCode, done.Substatus)
	}
	waitUntil(ctx, t, time.Minute, "the acknowledged job's Secret removed", func() (bool, string) {
		_, err := secrets.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	// The agent keeps reporting; the job's record stays as it was.
	hb := func() time.Time {
		c, err := r.admin.GetCluster(ctx, "east")
		if err != nil {
			t.Fatal(err)
		}
		return c.LastHeartbeat
	}
	since := hb()
	r.waitHub(ctx, t, "two more heartbeats", func() (bool, string) {
		now := hb()
		return now.Sub(since) >= 500*time.Millisecond, fmt.Sprint(now)
	})
	again, err := r.alice.GetJob(ctx, job.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if again.ModifyIndex != done.ModifyIndex || again.State != structs.JobCompleted || !again.EndTime.Equal(done.EndTime) {
		t.Errorf("the job's record changed after COMPLETED: %+v, was %+v", again, done)
	}
	for name, n := range r.pods.created(job.Number) {
		if n != 1 {
			t.Errorf("pod %s created %d times", name, n)
		}
	}
	if got := len(r.pods.created(job.Number)); got != 2 {
		t.Errorf("%d pods of the job seen, want 2", got)
	}
}
