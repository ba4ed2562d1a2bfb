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
)

// podLedger records, per cluster, every pod ever seen per job number.
type podLedger struct {
	mu   sync.Mutex
	seen map[string]map[string]map[string]bool // job → cluster → pod names
}

func (l *podLedger) add(cluster string, p *corev1.Pod) {
	job := p.Labels[podgroup.LabelJob]
	if job == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[job] == nil {
		l.seen[job] = map[string]map[string]bool{}
	}
	if l.seen[job][cluster] == nil {
		l.seen[job][cluster] = map[string]bool{}
	}
	l.seen[job][cluster][p.Name] = true
}

// TestDispatchLeaderKill kills the hub leader while 200 jobs are being
// submitted and dispatched over two clusters: every acknowledged job runs,
// and runs exactly once (its pods appear in one cluster only).
func TestDispatchLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("needs real control planes (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	f := startFed(t, 3, map[string][]k8senv.NodeSpec{"east": nodes("e", 10, "32"), "west": nodes("w", 10, "32")})
	f.addCluster(ctx, "east", nil)
	f.addCluster(ctx, "west", nil)
	adm := f.admin
	if _, err := adm.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"east", "west"} {
		if _, err := adm.PutMachineType(ctx, &structs.MachineType{Name: "m-" + c, Cores: 1, Slots: 1, RAM: 1, Cluster: c, ScaleMax: 4}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := adm.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "solver:1",
		AppDef: structs.AppDef{Name: "solver", Commands: map[string]structs.Command{"run": {Path: "/opt/run.sh"}}}}); err != nil {
		t.Fatal(err)
	}
	alice := f.userClient(ctx, "alice", "acme")

	ledger := &podLedger{seen: map[string]map[string]map[string]bool{}}
	for name, env := range f.envs {
		fac := informers.NewSharedInformerFactoryWithOptions(env.Client, 0, informers.WithNamespace("flotilla-jobs"))
		inf := fac.Core().V1().Pods().Informer()
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(o any) { ledger.add(name, o.(*corev1.Pod)) },
		}); err != nil {
			t.Fatal(err)
		}
		fac.Start(ctx.Done())
	}

	const jobs = 200
	var acked sync.Map // id → true
	var submitted atomic.Int64
	killed := make(chan int, 1)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				mt := "m-east"
				if i%2 == 1 {
					mt = "m-west"
				}
				req := structs.JobSubmitRequest{ID: fmt.Sprintf("lk-%03d", i), App: "solver", Command: "run", MachineType: mt, Nodes: 2}
				// The client retries other replicas; the id makes a retry idempotent.
				for attempt := 0; attempt < 5; attempt++ {
					if _, err := alice.SubmitJob(ctx, req); err == nil {
						acked.Store(req.ID, true)
						break
					} else if ctx.Err() != nil {
						return
					}
				}
				if submitted.Add(1) == jobs/4 {
					l, err := f.hubs.WaitLeader(ctx)
					if err == nil {
						f.hubs.Kill(l)
						killed <- l
					}
				}
			}
		}()
	}
	for i := range jobs {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case l := <-killed:
		t.Logf("killed leader hub%d after %d submissions", l, jobs/4)
	default:
		t.Fatal("leader was not killed")
	}
	var ids []string
	acked.Range(func(k, _ any) bool { ids = append(ids, k.(string)); return true })
	if len(ids) != jobs {
		t.Errorf("%d of %d submissions acknowledged", len(ids), jobs)
	}

	// Every acknowledged job reaches RUNNING.
	deadline := time.Now().Add(4 * time.Minute)
	var notRunning []string
	for time.Now().Before(deadline) {
		all, err := adm.AllJobs(ctx, client.JobQuery{})
		if err == nil {
			byID := map[string]*structs.Job{}
			for _, j := range all {
				byID[j.ID] = j
			}
			notRunning = notRunning[:0]
			for _, id := range ids {
				if j := byID[id]; j == nil || j.State != structs.JobRunning {
					notRunning = append(notRunning, id)
				}
			}
			// A replica may lag behind right after the election; the count
			// is checked exactly once every job runs.
			if len(notRunning) == 0 && len(all) == len(ids) {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(notRunning) > 0 {
		j, _ := adm.GetJob(ctx, notRunning[0], false)
		t.Fatalf("%d jobs not running, e.g. %s: %+v", len(notRunning), notRunning[0], j)
	}
	// Each job's pods live in exactly one cluster, two pods each; the hub
	// holds exactly the acknowledged jobs, none lost, none duplicated.
	all, err := adm.AllJobs(ctx, client.JobQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(ids) {
		t.Fatalf("hub holds %d jobs, %d acknowledged (a duplicate or a lost job)", len(all), len(ids))
	}
	ledger.mu.Lock()
	defer ledger.mu.Unlock()
	for _, j := range all {
		per := ledger.seen[itoa(j.Number)]
		if len(per) != 1 {
			t.Errorf("job %s (%d) has pods in %d clusters: %v", j.ID, j.Number, len(per), per)
			continue
		}
		for c, pods := range per {
			if c != j.Cluster || len(pods) != 2 {
				t.Errorf("job %s: pods %v in %s, job says cluster %s", j.ID, pods, c, j.Cluster)
			}
		}
	}
}
