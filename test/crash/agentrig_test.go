package crash

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// jobsNS is the namespace the agent processes run jobs in.
const jobsNS = "flotilla-jobs"

// agentRig is a federation of real processes: flotilla-hub replicas, a
// control plane (cluster "east") and a flotilla-agent process, seeded with
// tenant acme, machine type mt pinned to east, app solver and user alice.
type agentRig struct {
	hubs  *procenv.Hubs
	env   *k8senv.Env
	agent *procenv.Agent
	admin *client.Client
	alice *client.Client
	pods  *podLedger
	mt    string
}

func startAgentRig(ctx context.Context, t *testing.T, replicas int, nodes []k8senv.NodeSpec, mt *structs.MachineType) *agentRig {
	t.Helper()
	r := &agentRig{mt: mt.Name}
	r.hubs = procenv.StartHubs(t, procenv.HubOptions{Replicas: replicas, Args: []string{"-dispatch-interval", "250ms"}})
	r.env = k8senv.Start(t, k8senv.Options{Name: "east"})
	if err := r.env.AddNodes(ctx, nodes...); err != nil {
		t.Fatal(err)
	}
	if err := r.env.CreateNamespace(ctx, jobsNS); err != nil {
		t.Fatal(err)
	}
	r.pods = watchPods(ctx, t, r.env)
	r.admin = r.hubs.Client(r.hubs.AdminKey)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	must(r.admin.PutCluster(ctx, "east", &structs.ClusterSpec{}))
	mt.Cluster = "east"
	must(r.admin.PutMachineType(ctx, mt))
	must(r.admin.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "solver:1",
		AppDef: structs.AppDef{Name: "solver", Commands: map[string]structs.Command{"run": {Path: "/opt/run.sh", Name: "Run"}}}}))
	must(r.admin.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}))
	key, err := r.admin.CreateAPIKey(ctx, "alice", "crash")
	if err != nil {
		t.Fatal(err)
	}
	r.alice = r.hubs.Client(key.Key)
	tok, err := r.admin.CreateBootstrapToken(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	r.agent = procenv.StartAgent(t, procenv.AgentOptions{Cluster: "east", HubURLs: r.hubs.URLs(), Kubeconfig: r.env.Kubeconfig,
		BootstrapToken: tok.Key, Namespace: jobsNS, Args: []string{"-heartbeat", "300ms"}})
	r.waitCapacity(ctx, t)
	return r
}

// waitCapacity waits until the agent reported capacity for the machine type.
func (r *agentRig) waitCapacity(ctx context.Context, t *testing.T) {
	t.Helper()
	r.waitHub(ctx, t, "the agent's capacity report", func() (bool, string) {
		c, err := r.admin.GetCluster(ctx, "east")
		if err != nil {
			return false, err.Error()
		}
		return c.Capacity[r.mt].Total > 0, fmt.Sprint(c.Capacity)
	})
}

// submit submits a job of the given nodes as alice.
func (r *agentRig) submit(ctx context.Context, t *testing.T, id string, nodes int) *structs.Job {
	t.Helper()
	j, err := r.alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: id, App: "solver", Command: "run", MachineType: r.mt, Nodes: nodes})
	if err != nil {
		t.Fatalf("submit %s: %v", id, err)
	}
	return j
}

// waitJob waits until the hub's record of job id satisfies cond.
func (r *agentRig) waitJob(ctx context.Context, t *testing.T, id, what string, cond func(*structs.Job) bool) *structs.Job {
	t.Helper()
	var last *structs.Job
	r.waitHub(ctx, t, "job "+id+" "+what, func() (bool, string) {
		j, err := r.alice.GetJob(ctx, id, true)
		if err != nil {
			return false, err.Error()
		}
		last = j
		return cond(j), fmt.Sprintf("%s %q", j.State, j.Substatus)
	})
	return last
}

func (r *agentRig) waitHub(ctx context.Context, t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	waitUntil(ctx, t, 2*time.Minute, what, cond)
}

// complete makes the head of job number n exit 0 (kwok ends the pod).
func (r *agentRig) complete(ctx context.Context, t *testing.T, n uint64) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"0s"}}}`, k8senv.AnnotationSucceedAfter)
	if _, err := r.env.Client.CoreV1().Pods(jobsNS).Patch(ctx, podgroup.PodName(n, 0), types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("completing job %d: %v", n, err)
	}
}

func waitUntil(ctx context.Context, t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, last)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// podLedger records, from a watch of the API server, every pod of the
// jobs namespace: the UIDs seen under each name (a name seen with two UIDs
// was created twice) and the last state of each.
type podLedger struct {
	mu   sync.Mutex
	uids map[string]map[types.UID]bool
	last map[string]*corev1.Pod
	// seq counts the events seen; boundAt is, per pod name, the event at
	// which the pod was first seen bound (the watch delivers a resource's
	// changes in order).
	seq     int
	boundAt map[string]int
}

func watchPods(ctx context.Context, t *testing.T, env *k8senv.Env) *podLedger {
	t.Helper()
	l := &podLedger{uids: map[string]map[types.UID]bool{}, last: map[string]*corev1.Pod{}, boundAt: map[string]int{}}
	f := informers.NewSharedInformerFactoryWithOptions(env.Client, 0, informers.WithNamespace(jobsNS))
	inf := f.Core().V1().Pods().Informer()
	record := func(o any) {
		p, ok := o.(*corev1.Pod)
		if !ok {
			return
		}
		l.mu.Lock()
		if l.uids[p.Name] == nil {
			l.uids[p.Name] = map[types.UID]bool{}
		}
		l.uids[p.Name][p.UID] = true
		l.last[p.Name] = p
		l.seq++
		if _, seen := l.boundAt[p.Name]; !seen && p.Spec.NodeName != "" {
			l.boundAt[p.Name] = l.seq
		}
		l.mu.Unlock()
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: record, UpdateFunc: func(_, o any) { record(o) }}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	t.Cleanup(func() { cancel(); f.Shutdown() })
	f.Start(wctx.Done())
	f.WaitForCacheSync(wctx.Done())
	return l
}

// created returns how many pods were created under each name of job n.
func (l *podLedger) created(n uint64) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	prefix := podgroup.JobName(n) + "-"
	for name, u := range l.uids {
		if len(name) > len(prefix) && name[:len(prefix)] == prefix {
			out[name] = len(u)
		}
	}
	return out
}

// createdTwice returns the pod names seen with more than one UID.
func (l *podLedger) createdTwice() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for name, u := range l.uids {
		if len(u) > 1 {
			out = append(out, name)
		}
	}
	return out
}

// bound counts the pods of the given jobs seen bound so far.
func (l *podLedger) bound(numbers ...uint64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, num := range numbers {
		for rank := range 64 {
			if _, ok := l.boundAt[podgroup.PodName(num, rank)]; ok {
				n++
			}
		}
	}
	return n
}

// headBoundLast reports whether job n's head was seen bound after every
// other pod of the job of size pods, and when not, which pod came later.
func (l *podLedger) headBoundLast(n uint64, size int) (bool, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	head, ok := l.boundAt[podgroup.PodName(n, 0)]
	if !ok {
		return false, "head never bound"
	}
	for rank := 1; rank < size; rank++ {
		at, ok := l.boundAt[podgroup.PodName(n, rank)]
		if !ok || at > head {
			return false, fmt.Sprintf("pod %s bound after the head (%v)", podgroup.PodName(n, rank), ok)
		}
	}
	return true, ""
}
