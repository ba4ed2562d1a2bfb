package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// TestPrePlacedGangAtomic creates gangs pre-placed on a real control plane
// and makes the create fail part way, twice: a node of the placement is
// deleted between placement and create (job 1), and a
// ValidatingAdmissionPolicy refuses one pod of the gang (job 2). Each
// time, when the agent makes its next attempt, no pod of the gang is left,
// and once the cause is gone the gang is created whole.
func TestPrePlacedGangAtomic(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := k8senv.Start(t, k8senv.Options{Name: "preplace"})
	var specs []k8senv.NodeSpec
	for i := range 5 {
		specs = append(specs, k8senv.NodeSpec{Name: fmt.Sprintf("n%d", i), CPU: "16", Memory: "64Gi"})
	}
	if err := env.AddNodes(ctx, specs...); err != nil {
		t.Fatal(err)
	}
	rep := &reportLog{}
	c := agent.NewCluster(agent.ClusterConfig{
		Client: env.Client, NamespacePrefix: prefix, Image: "solver:1",
		Log:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Report: rep.add,
	})

	// The hook: job 1's first attempt loses the node of its rank 1 after
	// placement; every second attempt waits for the test.
	type attempt struct {
		job     uint64
		release chan struct{}
	}
	second := make(chan attempt)
	var mu sync.Mutex
	attempts := map[uint64]int{}
	gone := ""
	c.Loop.BeforeCreate = func(id cache.GangID, nodes []string) {
		mu.Lock()
		attempts[id.Number]++
		n := attempts[id.Number]
		mu.Unlock()
		switch {
		case id.Number == 1 && n == 1:
			gone = nodes[1]
			if err := env.Client.CoreV1().Nodes().Delete(ctx, gone, metav1.DeleteOptions{}); err != nil {
				t.Errorf("delete node %s: %v", gone, err)
				return
			}
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for c.Cache.NodeExists(gone) && ctx.Err() == nil { // the informer's delivery
				select {
				case <-tick.C:
				case <-ctx.Done():
				}
			}
		case n == 2:
			a := attempt{job: id.Number, release: make(chan struct{})}
			select {
			case second <- a:
				<-a.release
			case <-ctx.Done():
			}
		}
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(actx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	awaitSecond := func(job uint64) attempt {
		t.Helper()
		select {
		case a := <-second:
			if a.job != job {
				t.Fatalf("second attempt of job %d, want job %d", a.job, job)
			}
			return a
		case <-ctx.Done():
			t.Fatalf("no second attempt of job %d", job)
		}
		return attempt{}
	}
	podsOf := func(job uint64) []corev1.Pod {
		t.Helper()
		var out []corev1.Pod
		for _, p := range listPods(ctx, t, env) {
			if p.Labels[podgroup.LabelJob] == fmt.Sprint(job) {
				out = append(out, p)
			}
		}
		return out
	}
	checkWhole := func(job uint64, size int) {
		t.Helper()
		waitFor(t, time.Minute, fmt.Sprintf("job %d running", job), func() (bool, string) {
			st := c.Jobs.States()[job]
			return st == structs.JobRunning, string(st) + rep.String()
		})
		pods := podsOf(job)
		if len(pods) != size {
			t.Fatalf("job %d: %d pods, want %d", job, len(pods), size)
		}
		var head string
		for _, p := range pods {
			switch {
			case p.Spec.NodeName == "":
				t.Errorf("pod %s unbound", p.Name)
			case p.Spec.NodeName == gone:
				t.Errorf("pod %s on the deleted node %s", p.Name, gone)
			}
			if p.Labels[podgroup.LabelRank] == "0" {
				head = string(p.UID)
			}
		}
		sec, err := env.Client.CoreV1().Secrets(pods[0].Namespace).Get(ctx, podgroup.JobName(job), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := sec.Annotations[podgroup.AnnotStarted]; head == "" || got != head {
			t.Errorf("job %d: start record %q, head %q", job, got, head)
		}
	}

	// 1. A node deleted between placement and create.
	c.Jobs.AddInput(job(1, "acme", mtCPU8, 4, t0))
	a := awaitSecond(1)
	if left := podsOf(1); len(left) != 0 {
		t.Errorf("job 1: %d pods left behind by the failed create: %v", len(left), podsAt(left))
	}
	close(a.release)
	checkWhole(1, 4)

	// 2. An admission policy refusing rank 2 of job 2.
	refuse(ctx, t, env, true)
	c.Jobs.AddInput(job(2, "acme", mtCPU8, 3, t0.Add(time.Second)))
	a = awaitSecond(2)
	if left := podsOf(2); len(left) != 0 {
		t.Errorf("job 2: %d pods left behind by the refused create: %v", len(left), podsAt(left))
	}
	refuse(ctx, t, env, false)
	close(a.release)
	checkWhole(2, 3)

	if created, failures := c.Loop.CreateStats(); created != 2 || failures != 2 {
		t.Errorf("pre-placed creates: %d created, %d failed; want 2 and 2", created, failures)
	}
	if bound, _ := c.Loop.Stats(); bound != 0 {
		t.Errorf("%d gangs went through the bind path, want 0", bound)
	}
}

type reportLog struct {
	mu  sync.Mutex
	all []structs.JobStateUpdate
}

func (r *reportLog) add(u structs.JobStateUpdate) {
	r.mu.Lock()
	r.all = append(r.all, u)
	r.mu.Unlock()
}

func (r *reportLog) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s string
	for _, u := range r.all {
		s += fmt.Sprintf("\n  job %d %s %s", u.Number, u.State, u.Substatus)
	}
	return s
}

func podsAt(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name+"@"+p.Spec.NodeName)
	}
	return out
}

// refuse installs (on) or removes (off) a ValidatingAdmissionPolicy that
// refuses to create rank 2 of job 2, and waits until the API server
// enforces (or no longer enforces) it, probing with dry-run creates.
func refuse(ctx context.Context, t *testing.T, env *k8senv.Env, on bool) {
	t.Helper()
	const name = "refuse-j2-rank2"
	api := env.Client.AdmissionregistrationV1()
	if on {
		forbidden := metav1.StatusReasonForbidden
		policy := &admissionv1.ValidatingAdmissionPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: admissionv1.ValidatingAdmissionPolicySpec{
				FailurePolicy: new(admissionv1.Fail),
				MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionv1.RuleWithOperations{
						Operations: []admissionv1.OperationType{admissionv1.Create},
						Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
					},
				}}},
				Validations: []admissionv1.Validation{{
					Expression: "!(has(object.metadata.labels) && object.metadata.labels[?'" + podgroup.LabelJob + "'].orValue('') == '2'" +
						" && object.metadata.labels[?'" + podgroup.LabelRank + "'].orValue('') == '2')",
					Message: "rank 2 of job 2 is refused by the test",
					Reason:  &forbidden,
				}},
			},
		}
		if _, err := api.ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		binding := &admissionv1.ValidatingAdmissionPolicyBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName: name, ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			},
		}
		if _, err := api.ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	} else {
		if err := api.ValidatingAdmissionPolicyBindings().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := api.ValidatingAdmissionPolicies().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "default",
			Labels: map[string]string{podgroup.LabelJob: "2", podgroup.LabelRank: "2"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}},
	}
	waitFor(t, time.Minute, fmt.Sprintf("the policy enforced=%v", on), func() (bool, string) {
		_, err := env.Client.CoreV1().Pods("default").Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if on {
			return apierrors.IsForbidden(err), fmt.Sprint(err)
		}
		return err == nil, fmt.Sprint(err)
	})
}
