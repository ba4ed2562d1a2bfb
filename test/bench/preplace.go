package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/binder"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// createBoundRows measures pods created already bound, on the control plane
// of the scheduler table: Flotilla's pre-placed creates (the agent places
// each new gang against its cache and creates its pods with their nodes
// set), the raw ceiling of such creates (64 clients posting pods with
// nodeName set), and kube-scheduler creating and binding the same pods.
// The workload mixes jobs of 1 pod and of 8 pods, 1 core each, half the
// pods each; it fits the cluster.
func createBoundRows(ctx context.Context, r *report, env *k8senv.Env, specs []k8senv.NodeSpec, pods int) error {
	for _, ns := range []string{"pp", "ppks", "ppraw"} {
		if err := env.CreateNamespace(ctx, ns); err != nil {
			return err
		}
	}
	jobs := mixedJobs(pods)
	n := 0
	for _, j := range jobs {
		n += j.nodes
	}

	var ceiling, fl, ks float64
	var ceilUse, flUse, ksUse usage
	var err error
	ceilingRow := func() error {
		if schedRow("create-ceiling") {
			ceiling, ceilUse, err = rawCreateCeiling(ctx, env, specs, n)
		}
		return err
	}
	flRow := func() error {
		if schedRow("fl-create") {
			fl, flUse, err = preplacedCreates(ctx, env, jobs)
		}
		return err
	}
	// The ceiling first, unless -sched-rows names fl-create before it (to
	// see whether a row's place in the table moves its figures).
	first, second := ceilingRow, flRow
	if i := strings.Index(schedRows, "fl-create"); i >= 0 && i < strings.Index(schedRows+"create-ceiling", "create-ceiling") {
		first, second = flRow, ceilingRow
	}
	if err := first(); err != nil {
		return err
	}
	if err := second(); err != nil {
		return err
	}
	// Variants of the ceiling that take one of the pre-placed row's
	// differences each (-sched-rows only): an extra pod watcher as the
	// agent's, and creates answered with metadata only, through the
	// agent's binder.
	for _, v := range []ceilingVariant{{name: "create-ceiling-watch", watch: true}, {name: "create-ceiling-meta", meta: true}} {
		if schedRows != "" && schedRow(v.name) {
			rate, use, err := rawCreateCeilingAs(ctx, env, specs, n, v)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "bench: %s: %.1f pods/s, %s\n", v.name, rate, use)
		}
	}
	if schedRow("ks-create") {
		if ks, ksUse, err = kubeSchedulerCreateBind(ctx, env, jobs); err != nil {
			return err
		}
	}
	if createAB > 0 {
		if err := createABRuns(ctx, env, specs, jobs, n); err != nil {
			return err
		}
	}
	r.addIf(ceiling > 0, "sched_raw_create_ceiling_per_sec", ceiling, "pods/s", "raw create ceiling: 64 parallel creates of pods with nodeName set")
	r.addIf(fl > 0, "sched_create_bound_flotilla_pods_per_sec", fl, "pods/s",
		fmt.Sprintf("Flotilla pre-placed creates, %d pods in jobs of 1 and 8 (placed against the cache, created bound, 64 in flight)", n))
	r.addIf(ks > 0, "sched_create_bound_kube_scheduler_pods_per_sec", ks, "pods/s", "kube-scheduler: the same pods created (64 clients) and bound, first create to last bind")
	r.addIf(fl > 0 && ceiling > 0, "sched_create_bound_pct_of_create_ceiling", round1(100*fl/ceiling), "%", "Flotilla pre-placed creates as % of the create ceiling")
	r.addIf(fl > 0 && ks > 0, "sched_create_bound_speedup_vs_kube_scheduler", round1(fl/ks), "x", "Flotilla pre-placed / kube-scheduler create+bind")
	// The same rows to the last pod Running (kwok's status patch): the
	// create rate lets a row run ahead of kwok, whose patches then queue
	// behind the creates; to Running, every row is charged its pods' start.
	r.addIf(ceiling > 0, "sched_raw_create_running_per_sec", ceilUse.runningRate(), "pods/s", "raw creates: first create to every pod Running")
	r.addIf(fl > 0, "sched_create_bound_flotilla_running_per_sec", flUse.runningRate(), "pods/s", "Flotilla pre-placed creates: first create to every pod Running")
	r.addIf(ks > 0, "sched_create_bound_kube_scheduler_running_per_sec", ksUse.runningRate(), "pods/s", "kube-scheduler create + bind: first create to every pod Running")
	r.addIf(fl > 0 && ceiling > 0, "sched_create_bound_running_pct_of_create_ceiling", round1(100*flUse.runningRate()/max(ceilUse.runningRate(), 1e-9)), "%", "the same, pre-placed as % of raw creates")
	r.addIf(ceiling > 0, "sched_raw_create_client_cpu_us_per_pod", ceilUse.selfUs, "us", "raw create ceiling: the creating clients' CPU per pod (the floor of any creator)")
	r.addIf(fl > 0, "sched_create_bound_flotilla_cpu_us_per_pod", flUse.selfUs, "us", "Flotilla agent: CPU per pod created pre-placed (placement, creates, informers, cache)")
	r.addIf(fl > 0, "sched_create_bound_flotilla_allocs_per_pod", flUse.selfAllocs, "allocs", "Flotilla agent: heap allocations per pod created pre-placed")
	r.addIf(ks > 0, "sched_create_bound_kube_scheduler_cpu_us_per_pod", ksUse.schedUs, "us", "kube-scheduler: CPU per pod bound (its creating clients apart)")
	r.addIf(ks > 0, "sched_create_bound_kube_scheduler_clients_cpu_us_per_pod", ksUse.selfUs, "us", "kube-scheduler row: the creating clients' and counting informer's CPU per pod")
	r.addIf(ceiling > 0, "sched_create_bound_apiserver_cpu_us_per_pod_raw", ceilUse.apiUs, "us", "kube-apiserver CPU per pod: raw creates")
	r.addIf(fl > 0, "sched_create_bound_apiserver_cpu_us_per_pod_flotilla", flUse.apiUs, "us", "kube-apiserver CPU per pod: Flotilla pre-placed creates")
	r.addIf(ks > 0, "sched_create_bound_apiserver_cpu_us_per_pod_kube_scheduler", ksUse.apiUs, "us", "kube-apiserver CPU per pod: create + kube-scheduler's bind")
	r.addIf(ceiling > 0, "sched_create_bound_total_cpu_us_per_pod_raw", ceilUse.totalUs, "us", "every process (clients, kube-apiserver, etcd, kwok, controller manager) per pod: raw creates")
	r.addIf(fl > 0, "sched_create_bound_total_cpu_us_per_pod_flotilla", flUse.totalUs, "us", "every process per pod: Flotilla pre-placed creates")
	r.addIf(ks > 0, "sched_create_bound_total_cpu_us_per_pod_kube_scheduler", ksUse.totalUs, "us", "every process per pod: create + kube-scheduler's bind")
	return nil
}

// mixedJobs are jobs of 1 and of 8 one-core pods, about n pods, half each.
func mixedJobs(n int) []job {
	var out []job
	num := uint64(100000)
	for i := 0; i < n/2; i++ {
		num++
		out = append(out, job{number: num, nodes: 1, cores: 1})
		if i%8 == 0 {
			num++
			out = append(out, job{number: num, nodes: 8, cores: 1})
		}
	}
	return out
}

// ceilingVariant is a raw create ceiling with one of the pre-placed
// row's differences: a pod watcher beside it (the agent's informer), or
// creates answered with metadata only (the agent's binder).
type ceilingVariant struct {
	name        string
	watch, meta bool
}

// rawCreateCeiling creates n pods with nodeName set, 64 in parallel.
func rawCreateCeiling(ctx context.Context, env *k8senv.Env, nodes []k8senv.NodeSpec, n int) (float64, usage, error) {
	return rawCreateCeilingAs(ctx, env, nodes, n, ceilingVariant{})
}

func rawCreateCeilingAs(ctx context.Context, env *k8senv.Env, nodes []k8senv.NodeSpec, n int, v ceilingVariant) (float64, usage, error) {
	pods := buildPods("ppraw", "none", singleJobs(n))
	for i, p := range pods {
		p.Spec.NodeName = nodes[i%len(nodes)].Name
	}
	create := func(p *corev1.Pod) error {
		_, err := env.Client.CoreV1().Pods("ppraw").Create(ctx, p, metav1.CreateOptions{})
		return err
	}
	if v.meta {
		b := binder.New(env.Client, 64)
		create = func(p *corev1.Pod) error {
			_, err := b.CreateGang(ctx, []*corev1.Pod{p}, []string{p.Spec.NodeName}, nil, nil)
			return err
		}
	}
	if v.watch {
		f := informers.NewSharedInformerFactory(env.Client, 0)
		inf := f.Core().V1().Pods().Informer()
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		f.Start(wctx.Done())
		toolscache.WaitForCacheSync(wctx.Done(), inf.HasSynced)
	}
	var failed atomic.Int64
	m := startMeter(env)
	start, a0 := time.Now(), inFlightArea()
	parallel(64, len(pods), func(i int) {
		if err := create(pods[i]); err != nil {
			failed.Add(1)
		}
	})
	el := time.Since(start).Seconds()
	lastInFlight = (inFlightArea() - a0) / el
	fmt.Fprintf(os.Stderr, "bench: raw creates: %.1f creates in flight on average\n", lastInFlight)
	running := waitStarted(ctx, env, "ppraw").Sub(start)
	settle(ctx, env, false) // kwok's work for these pods counts here
	use := m.stop(n)
	use.running = running
	fmt.Fprintf(os.Stderr, "bench: raw creates: %s\n", use)
	if f := failed.Load(); f > 0 {
		return 0, use, fmt.Errorf("raw create ceiling: %d creates failed", f)
	}
	return round1(float64(n) / el), use, drain(ctx, env, "ppraw")
}

// preplacedCreates runs the agent's cache and scheduling loop and creates
// every job pre-placed through it, 64 jobs in flight.
func preplacedCreates(ctx context.Context, env *k8senv.Env, jobs []job) (float64, usage, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	ag := agent.NewCluster(agent.ClusterConfig{Client: env.Client, ExtraNamespaces: []string{"pp"}, Log: log, BindParallelism: 64})
	actx, stop := context.WithCancel(ctx)
	defer stop()
	if err := ag.Cache.Run(actx); err != nil {
		return 0, usage{}, err
	}
	done := make(chan struct{})
	go func() { ag.Loop.Run(actx); close(done) }()
	defer func() { stop(); <-done }()
	if schedRunner != "none" {
		// The job runner as flotilla-agent runs it: its Secret informer,
		// and the pod informer shared with the cache ("own": its own, as
		// before the agent shared it).
		if schedRunner == "own" {
			ag.Jobs.PodInformer = nil
		}
		rdone := make(chan struct{})
		go func() { _ = ag.Jobs.Run(actx); close(rdone) }()
		defer func() { stop(); <-rdone }()
	}
	// The meter starts once the agent has synced, as kube-scheduler's
	// create+bind row starts once it has bound a warm-up pod: neither
	// row counts its scheduler's start (at 5,000 nodes the agent's first
	// list of the nodes alone was ~500 allocations per pod of 1,000).
	m := startMeter(env)
	byJob := make([][]*corev1.Pod, len(jobs))
	for i, j := range jobs {
		byJob[i] = buildPods("pp", podgroup.SchedulerName, []job{j})
	}
	fmt.Fprintf(os.Stderr, "bench: pre-placed creates of %d jobs\n", len(jobs))
	var created, unplaced, failed atomic.Int64
	start, a0 := time.Now(), inFlightArea()
	parallel(64, len(jobs), func(i int) {
		placed, _, err := ag.Loop.CreatePlaced(ctx, nil, byJob[i])
		switch {
		case err != nil:
			failed.Add(1)
		case !placed:
			unplaced.Add(1)
		default:
			created.Add(int64(len(byJob[i])))
		}
	})
	el := time.Since(start).Seconds()
	lastInFlight = (inFlightArea() - a0) / el
	fmt.Fprintf(os.Stderr, "bench: pre-placed creates: %.1f creates in flight on average\n", lastInFlight)
	if f, u := failed.Load(), unplaced.Load(); f > 0 || u > 0 {
		return 0, usage{}, fmt.Errorf("pre-placed creates: %d failed, %d not placed", f, u)
	}
	// The agent's cost includes its informer seeing every pod it created.
	n := int(created.Load())
	for deadline := time.Now().Add(time.Minute); ; {
		if _, bound, _, _ := ag.Cache.Counts(); bound >= n || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return 0, usage{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	running := waitStarted(ctx, env, "pp").Sub(start)
	settle(ctx, env, false)
	use := m.stop(n)
	use.running = running
	fmt.Fprintf(os.Stderr, "bench: pre-placed creates: %s\n", use)
	return round1(float64(n) / el), use, drain(ctx, env, "pp")
}

// kubeSchedulerCreateBind starts kube-scheduler, creates the pods (64
// clients) and waits until all are bound: first create to last bind.
func kubeSchedulerCreateBind(ctx context.Context, env *k8senv.Env, jobs []job) (float64, usage, error) {
	pods := buildPods("ppks", "default-scheduler", jobs)
	if err := env.StartScheduler(5000, 10000); err != nil {
		return 0, usage{}, err
	}
	defer env.StopScheduler()
	var bound atomic.Int64
	var lastBind atomic.Int64
	seen := sync.Map{}
	f := informers.NewSharedInformerFactoryWithOptions(env.Client, 0, informers.WithNamespace("ppks"))
	inf := f.Core().V1().Pods().Informer()
	onPod := func(o any) {
		p, ok := o.(*corev1.Pod)
		if !ok || p.Spec.NodeName == "" {
			return
		}
		if _, dup := seen.LoadOrStore(p.Name, true); !dup {
			bound.Add(1)
			lastBind.Store(time.Now().UnixNano())
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: onPod, UpdateFunc: func(_, o any) { onPod(o) }}); err != nil {
		return 0, usage{}, err
	}
	ictx, stop := context.WithCancel(ctx)
	defer stop()
	f.Start(ictx.Done())
	toolscache.WaitForCacheSync(ictx.Done(), inf.HasSynced)
	// Warm up: time binding, not kube-scheduler's start.
	warm := buildPods("ppks", "default-scheduler", []job{{number: 1, nodes: 1, cores: 1}})[0]
	warm.Name = "warm"
	if _, err := env.Client.CoreV1().Pods("ppks").Create(ctx, warm, metav1.CreateOptions{}); err != nil {
		return 0, usage{}, err
	}
	if _, err := env.WaitPod(ctx, "ppks", "warm", func(p *corev1.Pod) bool { return p.Spec.NodeName != "" }); err != nil {
		return 0, usage{}, fmt.Errorf("kube-scheduler did not bind its warm-up pod: %w", err)
	}
	for bound.Load() < 1 {
		select {
		case <-ctx.Done():
			return 0, usage{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	bound.Store(0)
	fmt.Fprintf(os.Stderr, "bench: kube-scheduler create+bind of %d pods\n", len(pods))
	m := startMeter(env)
	start := time.Now()
	var failed atomic.Int64
	parallel(64, len(pods), func(i int) {
		if _, err := env.Client.CoreV1().Pods("ppks").Create(ctx, pods[i], metav1.CreateOptions{}); err != nil {
			failed.Add(1)
		}
	})
	if f := failed.Load(); f > 0 {
		return 0, usage{}, fmt.Errorf("kube-scheduler create+bind: %d creates failed", f)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for int(bound.Load()) < len(pods) {
		if lb := lastBind.Load(); time.Since(time.Unix(0, max(lb, start.UnixNano()))) > 30*time.Second {
			return 0, usage{}, fmt.Errorf("kube-scheduler create+bind: %d of %d bound, then nothing for 30 s", bound.Load(), len(pods))
		}
		select {
		case <-ctx.Done():
			return 0, usage{}, ctx.Err()
		case <-tick.C:
		}
	}
	el := time.Unix(0, lastBind.Load()).Sub(start).Seconds()
	running := waitStarted(ctx, env, "ppks").Sub(start)
	settle(ctx, env, false)
	use := m.stop(len(pods))
	use.running = running
	fmt.Fprintf(os.Stderr, "bench: kube-scheduler create+bind: %s\n", use)
	env.StopScheduler()
	return round1(float64(len(pods)) / el), use, drain(ctx, env, "ppks")
}

// parallel runs do(0..n-1) on `workers` goroutines.
func parallel(workers, n int, do func(i int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				do(i)
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}
