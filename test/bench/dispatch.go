package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// dispatchTable measures, at idle, the time from a job's submission at the
// hub to the last of its 8 pods bound in the cluster — hub admission, raft,
// placement, the agent's watch, level 1, level 2 and the binder.
func dispatchTable(ctx context.Context, jobs int) (*report, error) {
	r := &report{title: fmt.Sprintf("Dispatch latency: submit → all 8 pods bound, %d jobs one at a time, 3 hub replicas", jobs)}
	dir, err := os.MkdirTemp("", "flotilla-bench-dispatch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	hubs, err := hubtest.Start(filepath.Join(dir, "hub"), 3, hubtest.Options{Configure: func(_ int, cfg *hub.Config) {
		cfg.Dispatch = &hub.DispatchOptions{AcceptTimeout: 0}
	}})
	if err != nil {
		return nil, err
	}
	defer hubs.StopAll()
	env, err := k8senv.StartEnv(ctx, k8senv.Options{Name: "dispatch"})
	if err != nil {
		return nil, err
	}
	defer env.Stop()
	specs := make([]k8senv.NodeSpec, 32)
	for i := range specs {
		specs[i] = k8senv.NodeSpec{Name: fmt.Sprintf("d%02d", i), CPU: "32", Memory: "128Gi"}
	}
	if err := env.AddNodes(ctx, specs...); err != nil {
		return nil, err
	}
	adm, err := client.New(hubs.URLs(), hubs.AdminKey)
	if err != nil {
		return nil, err
	}
	for ctx.Err() == nil {
		if l, err := adm.Ready(ctx); err == nil && l != "" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := adm.PutTenant(ctx, &structs.Tenant{Name: "bench"}); err != nil {
		return nil, err
	}
	if _, err := adm.PutCluster(ctx, "dispatch", &structs.ClusterSpec{}); err != nil {
		return nil, err
	}
	key, err := adm.CreateAgentKey(ctx, "dispatch")
	if err != nil {
		return nil, err
	}
	if _, err := adm.PutMachineType(ctx, &structs.MachineType{Name: "m4", Cores: 4, Slots: 4, RAM: 8, Cluster: "dispatch", ScaleMax: 32}); err != nil {
		return nil, err
	}
	if _, err := adm.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "solver:1",
		AppDef: structs.AppDef{Name: "solver", Commands: map[string]structs.Command{"run": {Path: "/opt/run.sh"}}}}); err != nil {
		return nil, err
	}
	if _, err := adm.PutUser(ctx, "bench", &structs.UserSpec{Tenant: "bench", Role: structs.RoleUser}); err != nil {
		return nil, err
	}
	uk, err := adm.CreateAPIKey(ctx, "bench", "bench")
	if err != nil {
		return nil, err
	}
	user, err := client.New(hubs.URLs(), uk.Key)
	if err != nil {
		return nil, err
	}
	a, err := agent.New(agent.Config{Cluster: "dispatch", HubURLs: hubs.URLs(), AgentKey: key.Key, Kube: env.Config,
		Namespace: "flotilla-jobs", Image: "solver:1", Heartbeat: 500 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	actx, stopAgent := context.WithCancel(ctx)
	defer stopAgent()
	go func() { _ = a.Run(actx) }()

	// Bound pods per job, from a watch of the cluster.
	var mu sync.Mutex
	boundAt := map[string]time.Time{}
	counts := map[string]map[string]bool{}
	fac := informers.NewSharedInformerFactoryWithOptions(env.Client, 0, informers.WithNamespace("flotilla-jobs"))
	inf := fac.Core().V1().Pods().Informer()
	onPod := func(o any) {
		p, ok := o.(*corev1.Pod)
		if !ok || p.Spec.NodeName == "" {
			return
		}
		job := p.Labels[podgroup.LabelJob]
		mu.Lock()
		if counts[job] == nil {
			counts[job] = map[string]bool{}
		}
		counts[job][p.Name] = true
		if len(counts[job]) == 8 && boundAt[job].IsZero() {
			boundAt[job] = time.Now()
		}
		mu.Unlock()
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: onPod, UpdateFunc: func(_, o any) { onPod(o) }}); err != nil {
		return nil, err
	}
	fac.Start(actx.Done())
	toolscache.WaitForCacheSync(actx.Done(), inf.HasSynced)

	var lat []time.Duration
	for i := range jobs {
		start := time.Now()
		j, err := user.SubmitJob(ctx, structs.JobSubmitRequest{ID: fmt.Sprintf("d-%04d", i), App: "solver", Command: "run", MachineType: "m4", Nodes: 8})
		if err != nil {
			return nil, fmt.Errorf("submit %d: %w", i, err)
		}
		num := strconv.FormatUint(j.Number, 10)
		deadline := time.Now().Add(time.Minute)
		for {
			mu.Lock()
			at := boundAt[num]
			mu.Unlock()
			if !at.IsZero() {
				lat = append(lat, at.Sub(start))
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("job %d not bound within a minute", j.Number)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if _, err := user.CancelJob(ctx, j.ID, "measured"); err != nil {
			return nil, err
		}
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	r.add("dispatch_submit_to_bound_p50_ms", round1(pct(0.50)), "ms", "p50, submit → 8 pods bound")
	r.add("dispatch_submit_to_bound_p99_ms", round1(pct(0.99)), "ms", "p99, submit → 8 pods bound")
	return r, nil
}
