package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// podLedger records every pod creation the API servers announce, per job
// number and cluster, by pod UID: a pod deleted and created again under
// its name counts twice.
type podLedger struct {
	mu      sync.Mutex
	created map[string]map[string]map[string]string // job → cluster → pod UID → pod name
}

func (l *podLedger) add(cluster string, p *corev1.Pod) {
	job := p.Labels[podgroup.LabelJob]
	if job == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.created[job] == nil {
		l.created[job] = map[string]map[string]string{}
	}
	if l.created[job][cluster] == nil {
		l.created[job][cluster] = map[string]string{}
	}
	l.created[job][cluster][string(p.UID)] = p.Name
}

// watch feeds the ledger with the ADDED events of a cluster's job pods.
func (l *podLedger) watch(ctx context.Context, t *testing.T, cluster string, env *k8senv.Env) {
	fac := informers.NewSharedInformerFactoryWithOptions(env.Client, 0) // every tenant namespace
	inf := fac.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { l.add(cluster, o.(*corev1.Pod)) },
	}); err != nil {
		t.Fatal(err)
	}
	fac.Start(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatalf("pod watch of %s did not sync", cluster)
	}
}

// TestDispatchLeaderKill runs the shipped binaries: three flotilla-hub
// processes and, on two real control planes, a flotilla-agent process
// each. Burst rules let every job run in either cluster. While 200 jobs
// are submitted and dispatched, the leader is SIGKILLed (no graceful
// close) and started again from its data directory. Every acknowledged job
// must run, exactly once: a ledger of the pod creations both API servers
// announce shows each job's pods created in one cluster only — the one the
// hub records — and each of its pods created once.
func TestDispatchLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs real control planes and the built binaries (FLOTILLA_BIN: etcd, kube-apiserver, kwok from make tools; flotilla-hub, flotilla-agent from make build)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	hubs := procenv.StartHubs(t, procenv.HubOptions{Args: []string{"-dispatch-interval", "250ms"}})
	envs := map[string]*k8senv.Env{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range []string{"east", "west"} {
		wg.Go(func() {
			env := k8senv.Start(t, k8senv.Options{Name: name})
			if err := env.AddNodes(ctx, nodes(name[:1], 10, "32")...); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			mu.Lock()
			envs[name] = env
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	adm := hubs.Client(hubs.AdminKey)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(adm.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	for _, c := range []string{"east", "west"} {
		must(adm.PutCluster(ctx, c, &structs.ClusterSpec{}))
		must(adm.PutMachineType(ctx, &structs.MachineType{Name: "m-" + c, Cores: 1, Slots: 1, RAM: 1, Cluster: c, ScaleMax: 4}))
	}
	// Either way, at once: a job whose home cannot take it runs in the
	// other cluster.
	must(adm.PutBurstRule(ctx, &structs.BurstRule{Name: "east-to-west", From: "m-east", To: []string{"m-west"}}))
	must(adm.PutBurstRule(ctx, &structs.BurstRule{Name: "west-to-east", From: "m-west", To: []string{"m-east"}}))
	must(adm.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "solver:1",
		AppDef: structs.AppDef{Name: "solver", Commands: map[string]structs.Command{"run": {Path: "/opt/run.sh"}}}}))
	must(adm.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}))
	key, err := adm.CreateAPIKey(ctx, "alice", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	alice := hubs.Client(key.Key)

	ledger := &podLedger{created: map[string]map[string]map[string]string{}}
	for name, env := range envs {
		ledger.watch(ctx, t, name, env)
		tok, err := adm.CreateBootstrapToken(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		procenv.StartAgent(t, procenv.AgentOptions{Cluster: name, HubURLs: hubs.URLs(), Kubeconfig: env.Kubeconfig,
			BootstrapToken: tok.Key, Args: []string{"-heartbeat", "300ms"}})
	}

	const jobs = 200
	var acked sync.Map // id → true
	var submitted atomic.Int64
	killed := make(chan int, 1)
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				mt := "m-east"
				if i%2 == 1 {
					mt = "m-west"
				}
				req := structs.JobSubmitRequest{ID: fmt.Sprintf("lk-%03d", i), App: "solver", Command: "run", MachineType: mt, Nodes: 2}
				// The client retries other replicas; the id makes a retry idempotent.
				if _, err := alice.SubmitJob(ctx, req); err == nil {
					acked.Store(req.ID, true)
				} else {
					t.Errorf("submit %s: %v", req.ID, err)
				}
				if submitted.Add(1) == jobs/4 {
					l, err := hubs.Leader(ctx)
					if err != nil {
						t.Error(err)
						continue
					}
					hubs.Kill(l)
					killed <- l
					if err := hubs.Start(l); err != nil {
						t.Errorf("restart %s: %v", hubs.Replica(l).ID, err)
					}
				}
			}
		})
	}
	for i := range jobs {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case l := <-killed:
		t.Logf("SIGKILLed leader %s after %d submissions and started it again", hubs.Replica(l).ID, jobs/4)
	default:
		t.Fatal("the leader was not killed")
	}
	var ids []string
	acked.Range(func(k, _ any) bool { ids = append(ids, k.(string)); return true })
	if len(ids) != jobs {
		t.Fatalf("%d of %d submissions acknowledged", len(ids), jobs)
	}

	// Every acknowledged job reaches RUNNING.
	var all []*structs.Job
	deadline := time.Now().Add(5 * time.Minute)
	for {
		all, err = adm.AllJobs(ctx, client.JobQuery{Consistent: true})
		notRunning := 0
		var example *structs.Job
		for _, j := range all {
			if j.State != structs.JobRunning {
				notRunning++
				example = j
			}
		}
		if err == nil && notRunning == 0 && len(all) == jobs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs stored, %d not running (e.g. %+v; err %v)", len(all), notRunning, example, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	bursted := 0
	ledger.mu.Lock()
	defer ledger.mu.Unlock()
	for _, j := range all {
		if j.BurstRule != "" {
			bursted++
		}
		per := ledger.created[itoa(j.Number)]
		if len(per) != 1 {
			t.Errorf("job %s (%d): pods created in %d clusters: %v", j.ID, j.Number, len(per), per)
			continue
		}
		for c, pods := range per {
			if c != j.Cluster || len(pods) != j.Nodes {
				t.Errorf("job %s (%d): %d pod creations %v in %s; the hub says %d pods in %s", j.ID, j.Number, len(pods), pods, c, j.Nodes, j.Cluster)
			}
		}
	}
	t.Logf("%d jobs running, %d of them placed by a burst rule", len(all), bursted)
}
