package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// TestAgentCrashMidGang SIGKILLs the flotilla-agent process while it binds
// two 8-pod gangs, at a random point (after a random number of binds seen
// through a watch, 0 to 15), in 10 runs, and starts it again. Every time:
// each gang ends up bound whole, on 8 distinct nodes, with its head bound
// after all its workers (never a partial gang with a head that could have
// run); no pod of any job is ever created twice; every job runs to
// COMPLETED once.
func TestAgentCrashMidGang(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs a real control plane and the built binaries (FLOTILLA_BIN: etcd, kube-apiserver, kwok from make tools; flotilla-hub, flotilla-agent from make build)")
	}
	const runs, gang = 10, 8
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	var nodes []k8senv.NodeSpec
	for i := range 20 {
		nodes = append(nodes, k8senv.NodeSpec{Name: fmt.Sprintf("n%02d", i), CPU: "8", Memory: "32Gi"})
	}
	r := startAgentRig(ctx, t, 1, nodes, &structs.MachineType{Name: "n8", Cores: 8, Slots: 8, RAM: 16, ScaleMax: gang})
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var all []*structs.Job
	for run := range runs {
		a := r.submit(ctx, t, fmt.Sprintf("gang-%d-a", run), gang)
		b := r.submit(ctx, t, fmt.Sprintf("gang-%d-b", run), gang)
		all = append(all, a, b)
		k := rng.IntN(2 * gang)
		waitUntil(ctx, t, 2*time.Minute, fmt.Sprintf("run %d: %d binds", run, k), func() (bool, string) {
			n := r.pods.bound(a.Number, b.Number)
			if k == 0 {
				return len(r.pods.created(a.Number))+len(r.pods.created(b.Number)) > 0, "no pod yet"
			}
			return n >= k, fmt.Sprintf("%d bound", n)
		})
		r.agent.Kill()
		atKill := r.pods.bound(a.Number, b.Number)
		if err := r.agent.Start(); err != nil {
			t.Fatal(err)
		}
		for _, j := range []*structs.Job{a, b} {
			r.waitJob(ctx, t, j.ID, "running", func(j *structs.Job) bool { return j.State == structs.JobRunning })
			l, err := r.env.Client.CoreV1().Pods(jobsNS).List(ctx, metav1.ListOptions{LabelSelector: fmt.Sprintf("%s=%d", podgroup.LabelJob, j.Number)})
			if err != nil {
				t.Fatal(err)
			}
			on := map[string]bool{}
			for _, p := range l.Items {
				if p.Spec.NodeName == "" {
					t.Errorf("run %d: job %d running with pod %s unbound", run, j.Number, p.Name)
				}
				on[p.Spec.NodeName] = true
			}
			if len(l.Items) != gang || len(on) != gang {
				t.Errorf("run %d: job %d has %d pods on %d nodes, want %d on %d", run, j.Number, len(l.Items), len(on), gang, gang)
			}
			if ok, why := r.pods.headBoundLast(j.Number, gang); !ok {
				t.Errorf("run %d: job %d: %s", run, j.Number, why)
			}
		}
		t.Logf("run %d: killed after %d binds seen (aimed at %d); both gangs whole after the restart", run, atKill, k)
		for _, j := range []*structs.Job{a, b} {
			r.complete(ctx, t, j.Number)
		}
		for _, j := range []*structs.Job{a, b} {
			done := r.waitJob(ctx, t, j.ID, "ended", func(j *structs.Job) bool { return j.State.IsTerminal() })
			if done.State != structs.JobCompleted {
				t.Errorf("run %d: job %d ended %s %q, want COMPLETED", run, j.Number, done.State, done.Substatus)
			}
		}
		waitUntil(ctx, t, time.Minute, fmt.Sprintf("run %d: the jobs' pods removed", run), func() (bool, string) {
			l, err := r.env.Client.CoreV1().Pods(jobsNS).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			return len(l.Items) == 0, fmt.Sprintf("%d pods left", len(l.Items))
		})
		if t.Failed() {
			break
		}
	}
	for _, name := range r.pods.createdTwice() {
		t.Errorf("pod %s created twice", name)
	}
	for _, j := range all {
		if got := len(r.pods.created(j.Number)); got != gang {
			t.Errorf("job %d: %d pod names seen, want %d", j.Number, got, gang)
		}
		final, err := r.alice.GetJob(ctx, j.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if final.State != structs.JobCompleted {
			t.Errorf("job %d: %s at the end", j.Number, final.State)
		}
	}
}
