package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// prefix starts the tenant namespaces of the gang tests.
const prefix = "hpc"

var (
	mtCPU8  = &structs.MachineType{Name: "cpu8", Cores: 8, Slots: 8, RAM: 30, Cluster: "east"}
	mtCPU16 = &structs.MachineType{Name: "cpu16", Cores: 16, Slots: 16, RAM: 60, Cluster: "east"}
	mtGPU4  = &structs.MachineType{Name: "gpu4", Cores: 16, Slots: 16, GPUs: 4, RAM: 120, Cluster: "east"}
)

func job(number uint64, tenant string, mt *structs.MachineType, nodes int, submitted time.Time) runtime.Input {
	return runtime.Input{Job: &structs.Job{
		ID: fmt.Sprintf("job-%d", number), Number: number, Tenant: tenant, Owner: tenant + "-user",
		App: "solver", MachineType: mt.Name, Nodes: nodes, State: structs.JobAssigned, Cluster: "east",
		SubmitTime: submitted,
	}, MachineType: mt, Command: structs.Command{Path: "/opt/solver/run.sh"}}
}

type reports struct {
	mu  sync.Mutex
	all []structs.JobStateUpdate
}

func (r *reports) add(u structs.JobStateUpdate) {
	r.mu.Lock()
	r.all = append(r.all, u)
	r.mu.Unlock()
}

// summary lists the reports, for failure messages.
func (r *reports) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, u := range r.all {
		fmt.Fprintf(&b, "[job %d %s %q exit %d] ", u.Number, u.State, u.Substatus, u.ExitCode)
	}
	return b.String()
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		<-tick.C
	}
	t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, last)
}

// TestAgentGangScheduling runs the agent against a real control plane with
// 20 simulated nodes of two kinds, a kube-scheduler beside it, two isolated
// tenants and a gang larger than the cluster, and kills the agent while it
// creates and binds; on both paths: pods created pre-placed (the default)
// and pods created unbound and bound by level 2 (-create-unbound, the path
// of other tools' pods).
func TestAgentGangScheduling(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	for name, unbound := range map[string]bool{"preplaced": false, "bind": true} {
		t.Run(name, func(t *testing.T) { testAgentGangScheduling(t, unbound) })
	}
}

func testAgentGangScheduling(t *testing.T, createUnbound bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env := k8senv.Start(t, k8senv.Options{Name: "east", Scheduler: true})
	var nodes []k8senv.NodeSpec
	for i := range 14 {
		nodes = append(nodes, k8senv.NodeSpec{Name: fmt.Sprintf("cpu-%02d", i), CPU: "16", Memory: "64Gi", Labels: map[string]string{"kind": "cpu"}})
	}
	for i := range 6 {
		nodes = append(nodes, k8senv.NodeSpec{Name: fmt.Sprintf("gpu-%02d", i), CPU: "32", Memory: "256Gi", GPUs: 4, Labels: map[string]string{"kind": "gpu"}})
	}
	if err := env.AddNodes(ctx, nodes...); err != nil {
		t.Fatal(err)
	}

	// A pod placed by kube-scheduler takes 10 cores of some CPU node.
	foreign := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "foreign", Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"kind": "cpu"},
			Containers: []corev1.Container{{Name: "c", Image: "x", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10"), corev1.ResourceMemory: resource.MustParse("1Gi")}}}},
		},
	}
	if _, err := env.Client.CoreV1().Pods("default").Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.WaitPod(ctx, "default", "foreign", k8senv.InPhase(corev1.PodRunning)); err != nil {
		t.Fatalf("kube-scheduler did not place its pod: %v", err)
	}

	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	jobs := []runtime.Input{
		job(1, "acme", mtCPU8, 4, t0),
		job(2, "acme", mtCPU16, 6, t0.Add(time.Second)),
		job(3, "globex", mtGPU4, 2, t0.Add(2*time.Second)),
		job(4, "globex", mtCPU8, 3, t0.Add(3*time.Second)),
		job(5, "acme", mtCPU8, 40, t0.Add(4*time.Second)), // larger than the cluster
	}
	cfg := agent.ClusterConfig{
		Client: env.Client, NamespacePrefix: prefix, Image: "solver:1",
		Scheduler: scheduler.Options{TenantIsolation: true}, CreateUnbound: createUnbound,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}

	// First agent: killed as soon as the first pod is bound.
	rep1 := &reports{}
	cfg.Report = rep1.add
	a1 := agent.NewCluster(cfg)
	ctx1, kill := context.WithCancel(ctx)
	done1 := make(chan error, 1)
	go func() { done1 <- a1.Run(ctx1) }()
	for _, j := range jobs {
		a1.Jobs.AddInput(j)
	}
	waitFor(t, time.Minute, "a first bound pod", func() (bool, string) {
		pods := listPods(ctx, t, env)
		for _, p := range pods {
			if p.Spec.NodeName != "" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d pods, none bound", len(pods))
	})
	kill()
	if err := <-done1; err != nil {
		t.Fatalf("first agent: %v", err)
	}

	// Second agent: same jobs redelivered, as the hub does after a restart.
	rep2 := &reports{}
	cfg.Report = rep2.add
	a2 := agent.NewCluster(cfg)
	ctx2, stop2 := context.WithCancel(ctx)
	defer stop2()
	done2 := make(chan error, 1)
	go func() { done2 <- a2.Run(ctx2) }()
	for _, j := range jobs {
		a2.Jobs.AddInput(j)
	}
	waitFor(t, 2*time.Minute, "jobs 1-4 running", func() (bool, string) {
		st := a2.Jobs.States()
		for n := uint64(1); n <= 4; n++ {
			if st[n] != structs.JobRunning {
				return false, fmt.Sprint(st, "; reports: ", rep2.summary())
			}
		}
		return true, ""
	})

	pods := listPods(ctx, t, env)
	byJob := map[string][]corev1.Pod{}
	for _, p := range pods {
		byJob[p.Labels[podgroup.LabelJob]] = append(byJob[p.Labels[podgroup.LabelJob]], p)
	}
	// No duplicates, no partial gang.
	for _, j := range jobs {
		key := fmt.Sprint(j.Job.Number)
		got := byJob[key]
		if len(got) != j.Job.Nodes {
			t.Errorf("job %s: %d pods, want %d", key, len(got), j.Job.Nodes)
		}
		bound := 0
		for _, p := range got {
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		if bound != 0 && bound != len(got) {
			t.Errorf("job %s partly bound: %d of %d", key, bound, len(got))
		}
	}
	// The oversize gang: nothing bound, and a reason a user understands.
	for _, p := range byJob["5"] {
		if p.Spec.NodeName != "" {
			t.Errorf("oversize job pod %s bound to %s", p.Name, p.Spec.NodeName)
		}
	}
	why, ok := a2.Why(5)
	if !ok || why.Code != scheduler.ReasonLargerThanCluster || !strings.Contains(why.Reason, "40") {
		t.Errorf("why job 5: %+v (found %v)", why, ok)
	}

	// Placement: CPU work on CPU nodes, GPU work on GPU nodes; tenants never
	// share a node; no node over its allocatable, counting kube-scheduler's pod.
	all, err := env.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tenantsOn := map[string]map[string]bool{}
	cpuUsed := map[string]int64{}
	gpuUsed := map[string]int64{}
	for _, p := range all.Items {
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		n := p.Spec.NodeName
		for _, c := range p.Spec.Containers {
			cpuUsed[n] += c.Resources.Requests.Cpu().MilliValue()
			g := c.Resources.Requests[podgroup.GPUResource]
			gpuUsed[n] += g.Value()
		}
		if tn := p.Annotations[podgroup.AnnotTenant]; tn != "" {
			if tenantsOn[n] == nil {
				tenantsOn[n] = map[string]bool{}
			}
			tenantsOn[n][tn] = true
		}
		if mt := p.Annotations[podgroup.AnnotMachine]; mt != "" {
			isGPU := strings.HasPrefix(n, "gpu-")
			if wantGPU := mt == "gpu4"; isGPU != wantGPU {
				t.Errorf("pod %s of %s on %s", p.Name, mt, n)
			}
		}
	}
	for n, ts := range tenantsOn {
		if len(ts) > 1 {
			t.Errorf("node %s shared by tenants %v", n, ts)
		}
	}
	for _, spec := range nodes {
		limit := resource.MustParse(spec.CPU)
		if cpuUsed[spec.Name] > limit.MilliValue() {
			t.Errorf("node %s over allocatable: %dm of %dm", spec.Name, cpuUsed[spec.Name], limit.MilliValue())
		}
		if gpuUsed[spec.Name] > int64(spec.GPUs) {
			t.Errorf("node %s gpus %d of %d", spec.Name, gpuUsed[spec.Name], spec.GPUs)
		}
	}
	stop2()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
}

func listPods(ctx context.Context, t *testing.T, env *k8senv.Env) []corev1.Pod {
	t.Helper()
	l, err := env.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: podgroup.LabelManaged + "=true"})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}
