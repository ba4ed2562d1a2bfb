package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

const rtNS = "jobs"

var mtN4 = &structs.MachineType{Name: "n4", Cores: 4, Slots: 4, RAM: 8, Cluster: "east"}

func solverCmd() structs.Command {
	return structs.Command{Path: "/opt/solver/run.sh", Name: "Run", Parameters: map[string]structs.Parameter{
		"np": {Type: structs.ParamConst, Positional: true, Value: json.RawMessage(`"%TCORES%"`)},
	}}
}

func rtJob(number uint64, nodes int) runtime.Input {
	return runtime.Input{
		Job: &structs.Job{
			ID: fmt.Sprintf("job-%d", number), Number: number, Name: fmt.Sprintf("alice-%04d", number),
			Tenant: "acme", Owner: "alice", App: "solver", Command: "Run", MachineType: mtN4.Name, Nodes: nodes,
			State: structs.JobAssigned, Cluster: "east", SubmitTime: time.Now(), AssignTime: time.Now(),
		},
		MachineType: mtN4, Command: solverCmd(),
	}
}

// rtCluster is a control plane with an agent running the runtime environment.
type rtCluster struct {
	env  *k8senv.Env
	ag   *agent.Cluster
	reps *reports
	uids *podUIDs
}

func startRuntimeCluster(t *testing.T, ctx context.Context, nodes int, configure ...func(*agent.ClusterConfig)) *rtCluster {
	t.Helper()
	env := k8senv.Start(t, k8senv.Options{Name: "rt"})
	var specs []k8senv.NodeSpec
	for i := range nodes {
		specs = append(specs, k8senv.NodeSpec{Name: fmt.Sprintf("n-%02d", i), CPU: "8", Memory: "32Gi"})
	}
	if err := env.AddNodes(ctx, specs...); err != nil {
		t.Fatal(err)
	}
	if err := env.CreateNamespace(ctx, rtNS); err != nil {
		t.Fatal(err)
	}
	c := &rtCluster{env: env, reps: &reports{}, uids: watchPodUIDs(ctx, t, env)}
	cfg := agent.ClusterConfig{
		Client: env.Client, Namespace: rtNS, Image: "solver:1",
		Runtime: runtime.Options{InitImage: "init:1", JobsDomain: "jobs.test"},
		Log:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		// The hub records each final state and acknowledges it.
		Report: func(u structs.JobStateUpdate) {
			c.reps.add(u)
			if u.State.IsTerminal() {
				c.ag.Jobs.Acknowledged(u.Number)
			}
		},
	}
	for _, f := range configure {
		f(&cfg)
	}
	c.ag = agent.NewCluster(cfg)
	c.ag.Jobs.LogTailTimeout = 2 * time.Second
	return c
}

func (c *rtCluster) run(t *testing.T, ctx context.Context) {
	ctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.ag.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
}

// terminal returns the terminal reports of a job.
func (r *reports) terminal(id string) []structs.JobStateUpdate {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []structs.JobStateUpdate
	for _, u := range r.all {
		if u.ID == id && u.State.IsTerminal() {
			out = append(out, u)
		}
	}
	return out
}

// waitEnd waits for a job's terminal report and checks it is the only one.
func (c *rtCluster) waitEnd(t *testing.T, js runtime.Input, want structs.JobState, code int) structs.JobStateUpdate {
	t.Helper()
	waitFor(t, time.Minute, fmt.Sprintf("job %d to end %s", js.Job.Number, want), func() (bool, string) {
		return len(c.reps.terminal(js.Job.ID)) > 0, fmt.Sprint(c.ag.Jobs.States()[js.Job.Number])
	})
	got := c.reps.terminal(js.Job.ID)
	if len(got) != 1 || got[0].State != want || got[0].ExitCode != code {
		t.Fatalf("job %d terminal reports %+v, want one %s with exit code %d", js.Job.Number, got, want, code)
	}
	return got[0]
}

// objects lists every object of a job by kind and name.
func (c *rtCluster) objects(ctx context.Context, t *testing.T, number uint64) map[string][]metav1.Object {
	t.Helper()
	opts := metav1.ListOptions{LabelSelector: fmt.Sprintf("%s=%d", podgroup.LabelJob, number)}
	out := map[string][]metav1.Object{}
	core, netv1 := c.env.Client.CoreV1(), c.env.Client.NetworkingV1()
	add := func(kind string, err error, items ...metav1.Object) {
		if err != nil {
			t.Fatalf("list %s: %v", kind, err)
		}
		if len(items) > 0 {
			out[kind] = items
		}
	}
	secrets, err := core.Secrets(rtNS).List(ctx, opts)
	add("Secret", err, ptrs(secrets.Items)...)
	cms, err := core.ConfigMaps(rtNS).List(ctx, opts)
	add("ConfigMap", err, ptrs(cms.Items)...)
	svcs, err := core.Services(rtNS).List(ctx, opts)
	add("Service", err, ptrs(svcs.Items)...)
	nps, err := netv1.NetworkPolicies(rtNS).List(ctx, opts)
	add("NetworkPolicy", err, ptrs(nps.Items)...)
	ings, err := netv1.Ingresses(rtNS).List(ctx, opts)
	add("Ingress", err, ptrs(ings.Items)...)
	pods, err := core.Pods(rtNS).List(ctx, opts)
	add("Pod", err, ptrs(pods.Items)...)
	return out
}

func ptrs[T any, P interface {
	*T
	metav1.Object
}](items []T) []metav1.Object {
	out := make([]metav1.Object, len(items))
	for i := range items {
		out[i] = P(&items[i])
	}
	return out
}

func names(objs map[string][]metav1.Object) map[string][]string {
	out := map[string][]string{}
	for kind, os := range objs {
		for _, o := range os {
			out[kind] = append(out[kind], o.GetName())
		}
		slices.Sort(out[kind])
	}
	return out
}

// waitGone waits until no object of the job is left.
func (c *rtCluster) waitGone(ctx context.Context, t *testing.T, number uint64) {
	t.Helper()
	waitFor(t, time.Minute, fmt.Sprintf("job %d objects removed", number), func() (bool, string) {
		left := names(c.objects(ctx, t, number))
		return len(left) == 0, fmt.Sprint(left)
	})
}

// podUIDs records every pod UID ever seen under each pod name.
type podUIDs struct {
	mu   sync.Mutex
	uids map[string]map[types.UID]bool
}

func watchPodUIDs(ctx context.Context, t *testing.T, env *k8senv.Env) *podUIDs {
	t.Helper()
	p := &podUIDs{uids: map[string]map[types.UID]bool{}}
	f := informers.NewSharedInformerFactoryWithOptions(env.Client, 0, informers.WithNamespace(rtNS))
	inf := f.Core().V1().Pods().Informer()
	record := func(o any) {
		if pod, ok := o.(*corev1.Pod); ok {
			p.mu.Lock()
			if p.uids[pod.Name] == nil {
				p.uids[pod.Name] = map[types.UID]bool{}
			}
			p.uids[pod.Name][pod.UID] = true
			p.mu.Unlock()
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: record, UpdateFunc: func(_, o any) { record(o) },
	}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	t.Cleanup(func() { cancel(); f.Shutdown() })
	f.Start(wctx.Done())
	f.WaitForCacheSync(wctx.Done())
	return p
}

// recreated returns the pod names seen with more than one UID.
func (p *podUIDs) recreated() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for n, u := range p.uids {
		if len(u) > 1 {
			out = append(out, n)
		}
	}
	return out
}

// TestRuntimeLifecycle runs jobs through the agent's runtime environment on
// a real control plane: the objects of a 4-node job and their removal after
// completion, a failing head, a walltime, cancels before and after start, a
// lost pod, a redelivered ended job, and an interactive job behind the auth
// hook. Nothing is ever recreated and every job ends exactly once.
func TestRuntimeLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := startRuntimeCluster(t, ctx, 6)
	c.run(t, ctx)
	core := c.env.Client.CoreV1()

	t.Run("completes and is removed", func(t *testing.T) {
		js := rtJob(1, 4)
		c.ag.Jobs.AddInput(js)
		waitFor(t, time.Minute, "job 1 running", func() (bool, string) {
			st := c.ag.Jobs.States()[1]
			return st == structs.JobRunning, string(st)
		})
		objs := c.objects(ctx, t, 1)
		want := map[string][]string{
			"Secret": {"j1"}, "ConfigMap": {"j1"}, "Service": {"j1"}, "NetworkPolicy": {"j1"},
			"Pod": {"j1-0", "j1-1", "j1-2", "j1-3"},
		}
		if got := names(objs); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("objects of job 1:\n got %v\nwant %v", got, want)
		}
		secretUID := objs["Secret"][0].GetUID()
		for kind, os := range objs {
			for _, o := range os {
				refs := o.GetOwnerReferences()
				if kind != "Secret" && (len(refs) != 1 || refs[0].Kind != "Secret" || refs[0].UID != secretUID) {
					t.Errorf("%s %s owners %+v, want the job Secret %s", kind, o.GetName(), refs, secretUID)
				}
			}
		}
		if svc := objs["Service"][0].(*corev1.Service); svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("service %s is not headless: %q", svc.Name, svc.Spec.ClusterIP)
		}
		cm := objs["ConfigMap"][0].(*corev1.ConfigMap)
		if cm.Data[runtime.NodesKey] != "j1-0.j1\nj1-1.j1\nj1-2.j1\nj1-3.j1\n" {
			t.Errorf("machinefile %q", cm.Data[runtime.NodesKey])
		}
		nodes := map[string]bool{}
		for _, o := range objs["Pod"] {
			p := o.(*corev1.Pod)
			nodes[p.Spec.NodeName] = true
			if !hasMachinefile(p, cm.Name) {
				t.Errorf("pod %s lacks the machinefile mounts: volumes %+v mounts %+v", p.Name, p.Spec.Volumes, p.Spec.Containers[0].VolumeMounts)
			}
			head := p.Labels[podgroup.LabelRank] == "0"
			if runsCmd := slices.Contains(p.Spec.Containers[0].Args, "/opt/solver/run.sh"); runsCmd != head {
				t.Errorf("pod %s args %q: only the head runs the command", p.Name, p.Spec.Containers[0].Args)
			}
		}
		if len(nodes) != 4 {
			t.Errorf("4 pods on %d nodes", len(nodes))
		}
		// The head exits 0.
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"0s"}}}`, k8senv.AnnotationSucceedAfter)
		if _, err := core.Pods(rtNS).Patch(ctx, "j1-0", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		c.waitEnd(t, js, structs.JobCompleted, 0)
		c.waitGone(ctx, t, 1)
		if st := c.ag.Jobs.States()[1]; st != structs.JobCompleted {
			t.Errorf("state after the end %s", st)
		}
		// Redelivered by the hub after the end: not run again (checked at
		// the end of the test, after many reconcile passes).
		c.ag.Jobs.AddInput(js)
	})

	t.Run("failing head", func(t *testing.T) {
		js := rtJob(2, 4)
		js.HeadAnnotations = map[string]string{k8senv.AnnotationFailAfter: "1s", k8senv.AnnotationExitCode: "3"}
		c.ag.Jobs.AddInput(js)
		u := c.waitEnd(t, js, structs.JobCompletedWithError, 3)
		if !strings.Contains(u.Substatus, "3") {
			t.Errorf("substatus %q", u.Substatus)
		}
		c.waitGone(ctx, t, 2)
	})

	t.Run("walltime", func(t *testing.T) {
		js := rtJob(3, 2)
		js.Job.Walltime = structs.Duration(2 * time.Second)
		added := time.Now()
		c.ag.Jobs.AddInput(js)
		waitFor(t, time.Minute, "job 3 running", func() (bool, string) {
			st := c.ag.Jobs.States()[3]
			return st == structs.JobRunning || st.IsTerminal(), string(st)
		})
		end := c.waitEnd(t, js, structs.JobTerminated, 0)
		if ran := end.Time.Sub(added); ran < 2*time.Second {
			t.Errorf("terminated %v after it was added: before its walltime", ran)
		}
		c.waitGone(ctx, t, 3)
	})

	t.Run("cancel", func(t *testing.T) {
		pending := rtJob(4, 10) // larger than the cluster: never starts
		running := rtJob(5, 2)
		c.ag.Jobs.AddInput(pending)
		c.ag.Jobs.AddInput(running)
		waitFor(t, time.Minute, "job 4 pods created, job 5 running", func() (bool, string) {
			st := c.ag.Jobs.States()
			return len(c.objects(ctx, t, 4)["Pod"]) == 10 && st[5] == structs.JobRunning, fmt.Sprint(st)
		})
		c.ag.Jobs.Cancel(4)
		c.ag.Jobs.Cancel(5)
		c.waitEnd(t, pending, structs.JobCanceled, 0)
		c.waitEnd(t, running, structs.JobTerminated, 0)
		c.waitGone(ctx, t, 4)
		c.waitGone(ctx, t, 5)
		c.ag.Jobs.Cancel(5) // the hub repeats itself: nothing happens
	})

	t.Run("lost pod", func(t *testing.T) {
		js := rtJob(7, 2)
		c.ag.Jobs.AddInput(js)
		waitFor(t, time.Minute, "job 7 running", func() (bool, string) {
			st := c.ag.Jobs.States()[7]
			return st == structs.JobRunning, string(st)
		})
		if err := core.Pods(rtNS).Delete(ctx, "j7-1", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		u := c.waitEnd(t, js, structs.JobCompletedWithError, 1)
		if !strings.Contains(u.Substatus, "lost") {
			t.Errorf("substatus %q", u.Substatus)
		}
		c.waitGone(ctx, t, 7)
	})

	t.Run("assigned anew after a cancel", func(t *testing.T) {
		first := rtJob(8, 10) // too large: canceled before it starts
		c.ag.Jobs.AddInput(first)
		waitFor(t, time.Minute, "job 8 pods created", func() (bool, string) {
			n := len(c.objects(ctx, t, 8)["Pod"])
			return n == 10, fmt.Sprint(n)
		})
		c.ag.Jobs.Cancel(8)
		c.waitEnd(t, first, structs.JobCanceled, 0)
		// The hub places it again (on a burst machine type, smaller): a
		// later assignment, which runs once the first one's objects are gone.
		again := rtJob(8, 2)
		again.Job.AssignTime = first.Job.AssignTime.Add(time.Minute)
		c.ag.Jobs.AddInput(again)
		waitFor(t, time.Minute, "job 8 running again", func() (bool, string) {
			st := c.ag.Jobs.States()[8]
			return st == structs.JobRunning, string(st)
		})
		objs := c.objects(ctx, t, 8)
		if got := names(objs); fmt.Sprint(got["Pod"]) != "[j8-0 j8-1]" || fmt.Sprint(got["ConfigMap"]) != "[j8]" || len(got["Secret"]) != 1 {
			t.Fatalf("second run objects %v", got)
		}
		for kind, os := range objs { // nothing left over from the first run
			for _, o := range os {
				if refs := o.GetOwnerReferences(); kind != "Secret" && (len(refs) != 1 || refs[0].UID != objs["Secret"][0].GetUID()) {
					t.Errorf("%s %s owned by %+v, not the second run's Secret", kind, o.GetName(), refs)
				}
			}
		}
		c.ag.Jobs.Cancel(8)
		waitFor(t, time.Minute, "job 8 ended again", func() (bool, string) {
			n := len(c.reps.terminal(first.Job.ID))
			return n == 2, fmt.Sprint(n)
		})
		if got := c.reps.terminal(first.Job.ID); got[1].State != structs.JobTerminated {
			t.Errorf("second run ended %+v", got[1])
		}
		c.waitGone(ctx, t, 8)
	})

	t.Run("interactive behind the auth hook", func(t *testing.T) {
		testInteractive(ctx, t, c)
	})

	// Nothing was ever recreated or run twice; each job ended exactly once.
	for _, name := range c.uids.recreated() {
		if !strings.HasPrefix(name, "j8-") { // job 8 was assigned anew
			t.Errorf("pod %s recreated", name)
		}
	}
	for n := uint64(1); n <= 7; n++ {
		if got := c.reps.terminal(fmt.Sprintf("job-%d", n)); len(got) != 1 {
			t.Errorf("job %d: %d terminal reports: %+v", n, len(got), got)
		}
	}
	if objs := names(c.objects(ctx, t, 1)); len(objs) != 0 {
		t.Errorf("redelivered job 1 was recreated: %v", objs)
	}
	// Bounded: once their objects are gone and two listings of the hub no
	// longer name them, the runner keeps nothing of the ended jobs.
	waitFor(t, time.Minute, "ended jobs forgotten", func() (bool, string) {
		jobs, _ := c.ag.Jobs.Tracked()
		return jobs == 0, fmt.Sprint(c.ag.Jobs.States())
	})
	c.ag.Jobs.Resync(map[uint64]bool{})
	c.ag.Jobs.Resync(map[uint64]bool{})
	if jobs, tombs := c.ag.Jobs.Tracked(); jobs != 0 || tombs != 0 {
		t.Errorf("after the listings the runner holds %d jobs and %d tombstones", jobs, tombs)
	}
}

func hasMachinefile(p *corev1.Pod, cm string) bool {
	vol := ""
	for _, v := range p.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == cm {
			vol = v.Name
		}
	}
	want := map[string]bool{"/etc/JARVICE/nodes": false, "/etc/JARVICE/cores": false, "/etc/flotilla/nodes": false, "/etc/flotilla/cores": false}
	for _, m := range p.Spec.Containers[0].VolumeMounts {
		if _, ok := want[m.MountPath]; ok && m.Name == vol && vol != "" {
			want[m.MountPath] = true
		}
	}
	for _, ok := range want {
		if !ok {
			return false
		}
	}
	return true
}
