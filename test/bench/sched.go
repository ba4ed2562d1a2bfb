package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/binder"
	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// schedTable runs, on ONE control plane with `nodes` simulated nodes:
// kube-scheduler and Flotilla on the same single-pod workload, both on the
// same gang workload that only partly fits, and the raw binding ceiling.
func schedTable(ctx context.Context, nodes, pods int, suffix string) (*report, error) {
	r := &report{title: fmt.Sprintf("Scheduler end to end: %d simulated nodes, %d pods, one API server", nodes, pods), suffix: suffix}
	env, err := k8senv.StartEnv(ctx, k8senv.Options{Name: "bench", Profiling: apiProfilePrefix != ""})
	if err != nil {
		return nil, err
	}
	defer env.Stop()
	// Every client of the table talks protobuf, as kube-scheduler does.
	if env.Client, err = protoClient(env); err != nil {
		return nil, err
	}
	specs := make([]k8senv.NodeSpec, nodes)
	for i := range specs {
		specs[i] = k8senv.NodeSpec{Name: fmt.Sprintf("n%04d", i), CPU: "32", Memory: "128Gi", Pods: 110}
	}
	if err := env.AddNodes(ctx, specs...); err != nil {
		return nil, err
	}
	// kwok marks the nodes ready after they exist: not the first row's work
	// (at 5,000 nodes 1.5 node patches per pod of the first row).
	settle(ctx, env, true)
	fmt.Fprintln(os.Stderr, measureIdle(ctx, env, 10*time.Second))
	for _, ns := range []string{"ks", "fl", "raw"} {
		if err := env.CreateNamespace(ctx, ns); err != nil {
			return nil, err
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	// Each scheduler starts after its pods exist, so the figures time
	// scheduling and binding, not pod creation; both get QPS 5000/10000.
	ksStart := starter{start: func(context.Context, func(any)) (func(), error) {
		return env.StopScheduler, env.StartScheduler(5000, 10000)
	}}
	flStart := starter{counts: bindObserver == "agent", start: func(ctx context.Context, count func(any)) (func(), error) {
		ag := agent.NewCluster(agent.ClusterConfig{Client: env.Client, ExtraNamespaces: []string{"fl"}, Log: log, BindParallelism: 64})
		if count != nil {
			// The agent's own pod informer tells the row of each bind: no
			// watcher beside the agent (the pre-placed row counts through
			// the agent too, and the ceiling runs none).
			if _, err := ag.PodInformer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
				AddFunc: count, UpdateFunc: func(_, o any) { count(o) }}); err != nil {
				return func() {}, err
			}
		}
		actx, stop := context.WithCancel(ctx)
		if err := ag.Cache.Run(actx); err != nil {
			stop()
			return func() {}, err
		}
		done := make(chan struct{})
		go func() { ag.Loop.Run(actx); close(done) }()
		return func() { stop(); <-done }, nil
	}}

	// 1. single-pod jobs.
	var ksSingle, flSingle, ksGang, flGang outcome
	var ceiling float64
	var ceilUse usage
	if schedRow("ks-single") {
		if ksSingle, err = runWorkload(ctx, env, "ks", "default-scheduler", singleJobs(pods), pods, ksStart); err != nil {
			return nil, err
		}
	}
	if schedRow("fl-single") {
		if flSingle, err = runWorkload(ctx, env, "fl", podgroup.SchedulerName, singleJobs(pods), pods, flStart); err != nil {
			return nil, err
		}
	}
	r.addIf(ksSingle.bound > 0, "sched_single_kube_scheduler_pods_per_sec", ksSingle.rate(), "pods/s", fmt.Sprintf("kube-scheduler v1.37.2 (QPS 5000), %d single-pod jobs", pods))
	r.addIf(flSingle.bound > 0, "sched_single_flotilla_pods_per_sec", flSingle.rate(), "pods/s", fmt.Sprintf("Flotilla, %d single-pod jobs", pods))
	r.addIf(ksSingle.bound > 0 && flSingle.bound > 0, "sched_single_speedup_vs_kube_scheduler", round1(flSingle.rate()/ksSingle.rate()), "x", "Flotilla / kube-scheduler")
	// The benchmark process runs the agent in the Flotilla rows (counting
	// through its informer) and only its counting informer in
	// kube-scheduler's; with -bind-observer informer the Flotilla row runs
	// that informer too, and the difference is the agent.
	agentUs, agentAllocs, agentRan := flSingle.use.selfUs, flSingle.use.selfAllocs, flSingle.bound > 0
	if !flStart.counts {
		agentUs, agentAllocs = agentUs-ksSingle.use.selfUs, agentAllocs-ksSingle.use.selfAllocs
		agentRan = agentRan && ksSingle.bound > 0
	}
	r.addIf(agentRan, "sched_single_flotilla_cpu_us_per_pod", round1(agentUs), "us", "Flotilla agent: CPU per pod bound (informers, cache, scheduling, bind)")
	r.addIf(agentRan, "sched_single_flotilla_allocs_per_pod", round1(agentAllocs), "allocs", "Flotilla agent: heap allocations per pod bound")
	r.addIf(ksSingle.bound > 0, "sched_single_kube_scheduler_cpu_us_per_pod", ksSingle.use.schedUs, "us", "kube-scheduler: CPU per pod bound")
	r.addIf(flSingle.bound > 0, "sched_single_apiserver_cpu_us_per_pod_flotilla", flSingle.use.apiUs, "us", "kube-apiserver CPU per pod, Flotilla binding")
	r.addIf(ksSingle.bound > 0, "sched_single_apiserver_cpu_us_per_pod_kube_scheduler", ksSingle.use.apiUs, "us", "kube-apiserver CPU per pod, kube-scheduler binding")

	// 2. gangs of 8 that only partly fit: 16-core pods on 32-core nodes.
	gangs := pods / 8
	capacity := nodes * 2
	if schedRow("ks-gang") {
		if ksGang, err = runWorkload(ctx, env, "ks", "default-scheduler", gangJobs(gangs, 8), min(capacity, gangs*8), ksStart); err != nil {
			return nil, err
		}
	}
	if schedRow("fl-gang") {
		if flGang, err = runWorkload(ctx, env, "fl", podgroup.SchedulerName, gangJobs(gangs, 8), min(capacity, gangs*8), flStart); err != nil {
			return nil, err
		}
	}
	r.addIf(ksGang.bound > 0, "sched_gang_kube_scheduler_pods_per_sec", ksGang.rate(), "pods/s", fmt.Sprintf("kube-scheduler, %d gangs of 8, room for %d pods", gangs, capacity))
	r.addIf(ksGang.bound > 0, "sched_gang_kube_scheduler_partial_jobs", float64(ksGang.partial), "jobs", "kube-scheduler: jobs with some but not all pods bound")
	r.addIf(flGang.bound > 0, "sched_gang_flotilla_pods_per_sec", flGang.rate(), "pods/s", "Flotilla, same gangs")
	r.addIf(flGang.bound > 0, "sched_gang_flotilla_partial_gangs", float64(flGang.partial), "gangs", "Flotilla: partly bound gangs (must be 0)")
	r.addIf(flGang.bound > 0, "sched_gang_flotilla_bound_pods", float64(flGang.bound), "pods", "Flotilla: pods bound (whole gangs)")

	// 3. the raw ceiling: a client that only posts bindings.
	if schedRow("bind-ceiling") {
		if ceiling, ceilUse, err = rawCeiling(ctx, env, specs, pods, false); err != nil {
			return nil, err
		}
	}
	if schedRows != "" && schedRow("bind-ceiling-watch") {
		rate, _, err := rawCeiling(ctx, env, specs, pods, true)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "bench: bind-ceiling-watch: %.1f binds/s\n", rate)
	}
	r.addIf(ceiling > 0, "sched_raw_binding_ceiling_per_sec", ceiling, "binds/s", "raw binding ceiling (64 parallel POSTs to pods/binding)")
	r.addIf(ceiling > 0, "sched_raw_binding_client_cpu_us_per_pod", ceilUse.selfUs, "us", "raw binding ceiling: the binding clients' CPU per bind")
	r.addIf(ceiling > 0, "sched_raw_binding_apiserver_cpu_us_per_pod", ceilUse.apiUs, "us", "raw binding ceiling: kube-apiserver CPU per bind")
	r.addIf(ceiling > 0 && flSingle.bound > 0, "sched_flotilla_pct_of_ceiling", round1(100*flSingle.rate()/ceiling), "%", "Flotilla single-pod rate as % of the ceiling")
	if bindAB > 0 {
		m, mc, err := bindABRuns(ctx, env, specs, pods, flStart)
		if err != nil {
			return nil, err
		}
		r.add("sched_flotilla_pct_of_ceiling_ab_median", round1(m), "%", fmt.Sprintf("the same, median of %d runs in rotating order (-bind-ab)", bindAB))
		r.add("sched_flotilla_pct_of_ceiling_cpu_ab_median", round1(mc), "%", "the ceiling's CPU per pod over Flotilla's (every process, first bind to last), median of the same runs")
	}

	// 4. pods created bound: pre-placed creates, their ceiling, kube-scheduler.
	if err := createBoundRows(ctx, r, env, specs, pods); err != nil {
		return nil, err
	}
	return r, nil
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// job is one workload job: its pods, built like level 1 builds them.
type job struct {
	number uint64
	nodes  int
	cores  int
}

func singleJobs(n int) []job {
	out := make([]job, n)
	for i := range out {
		out[i] = job{number: uint64(i + 1), nodes: 1, cores: 1}
	}
	return out
}

func gangJobs(n, size int) []job {
	out := make([]job, n)
	for i := range out {
		out[i] = job{number: uint64(i + 1), nodes: size, cores: 16}
	}
	return out
}

func buildPods(ns, schedName string, jobs []job) []*corev1.Pod {
	var pods []*corev1.Pod
	t0 := time.Now()
	for _, j := range jobs {
		for rank := range j.nodes {
			req := corev1.ResourceList{corev1.ResourceCPU: *resource.NewQuantity(int64(j.cores), resource.DecimalSI),
				corev1.ResourceMemory: resource.MustParse("1Gi")}
			pods = append(pods, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: podgroup.PodName(j.number, rank), Namespace: ns,
					Labels: map[string]string{podgroup.LabelManaged: "true", podgroup.LabelJob: fmt.Sprint(j.number), podgroup.LabelRank: fmt.Sprint(rank)},
					Annotations: map[string]string{podgroup.AnnotGangSize: fmt.Sprint(j.nodes), podgroup.AnnotTenant: "bench",
						podgroup.AnnotSubmitted: t0.Add(time.Duration(j.number) * time.Microsecond).UTC().Format(time.RFC3339Nano)}},
				Spec: corev1.PodSpec{SchedulerName: schedName, RestartPolicy: corev1.RestartPolicyNever,
					AutomountServiceAccountToken: new(false),
					Containers:                   []corev1.Container{{Name: "app", Image: "solver", Resources: corev1.ResourceRequirements{Requests: req, Limits: req}}}},
			})
		}
	}
	return pods
}

type outcome struct {
	bound, partial int
	start, last    time.Time
	use            usage // per pod bound, from the scheduler's start to the last bind
	// window is the stretch from the first bind to the last: every
	// process's CPU and the table's POSTs in flight (the agent's binds;
	// none for kube-scheduler, another process).
	window bindWindow
}

// starter starts a row's scheduler once the row's pods exist and returns
// its stop. With counts, the scheduler's own pod informer tells count of
// every pod event (the agent's), and the row runs no watcher of its own;
// else count is nil and the row watches its namespace to count binds.
type starter struct {
	start  func(ctx context.Context, count func(any)) (stop func(), err error)
	counts bool
}

// bindObserver is -bind-observer: what counts the binds of Flotilla's
// rows on the bind path ("agent": the agent's own pod informer;
// "informer": a pod informer of the row's own, as kube-scheduler's row).
var bindObserver string

func (o outcome) rate() float64 {
	d := o.last.Sub(o.start).Seconds()
	if d <= 0 {
		return 0
	}
	return round1(float64(o.bound) / d)
}

// runWorkload creates the pods with 32 parallel clients and measures from the
// first create to the last bind; it waits for `expect` bound pods, or for no
// new bind in 10 s. Then it deletes the pods and waits until they are gone.
func runWorkload(ctx context.Context, env *k8senv.Env, ns, schedName string, jobs []job, expect int,
	start starter) (outcome, error) {
	pods := buildPods(ns, schedName, jobs)
	fmt.Fprintf(os.Stderr, "bench: %s: %d pods of %d jobs in %s\n", schedName, len(pods), len(jobs), ns)
	var bound atomic.Int64
	var lastBind, firstBind atomic.Int64
	var mark0 atomic.Pointer[cpuMark] // at the first bind
	boundByJob := sync.Map{}
	seen := sync.Map{}
	onPod := func(o any) {
		p, ok := o.(*corev1.Pod)
		if !ok || p.Spec.NodeName == "" || p.Namespace != ns {
			return
		}
		if _, dup := seen.LoadOrStore(p.Name, true); dup {
			return
		}
		now := time.Now().UnixNano()
		if firstBind.CompareAndSwap(0, now) {
			mark0.Store(markNow(env))
		}
		lastBind.Store(now)
		v, _ := boundByJob.LoadOrStore(p.Labels[podgroup.LabelJob], new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		bound.Add(1)
	}
	ictx, stop := context.WithCancel(ctx)
	defer stop()
	if !start.counts {
		f := informers.NewSharedInformerFactoryWithOptions(env.Client, 0, informers.WithNamespace(ns))
		inf := f.Core().V1().Pods().Informer()
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: onPod, UpdateFunc: func(_, o any) { onPod(o) }}); err != nil {
			return outcome{}, err
		}
		f.Start(ictx.Done())
		toolscache.WaitForCacheSync(ictx.Done(), inf.HasSynced)
	}

	work := make(chan *corev1.Pod)
	var wg sync.WaitGroup
	var createErr atomic.Value
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				if _, err := env.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					createErr.Store(err)
				}
			}
		}()
	}
	for _, p := range pods {
		work <- p
	}
	close(work)
	wg.Wait()
	if err, ok := createErr.Load().(error); ok {
		return outcome{}, fmt.Errorf("create pods: %w", err)
	}
	m := startMeter(env)
	var count func(any)
	if start.counts {
		count = onPod
	}
	stopSched, err := start.start(ctx, count)
	defer stopSched()
	if err != nil {
		return outcome{}, err
	}
	if m.schedPid == 0 { // kube-scheduler started just now
		m = startMeterFrom(env, m)
	}
	start0 := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for int(bound.Load()) < expect {
		lb := lastBind.Load()
		if lb > 0 && time.Since(time.Unix(0, lb)) > 10*time.Second {
			break
		}
		if lb == 0 && time.Since(start0) > 2*time.Minute {
			return outcome{}, fmt.Errorf("%s: nothing bound in 2 minutes", schedName)
		}
		select {
		case <-ctx.Done():
			return outcome{}, ctx.Err()
		case <-tick.C:
		}
	}
	out := outcome{bound: int(bound.Load()), start: time.Unix(0, firstBind.Load()), last: time.Unix(0, lastBind.Load())}
	if m0 := mark0.Load(); m0 != nil {
		out.window = windowOf(m0, markNow(env), out.bound)
	}
	out.use = m.stop(out.bound)
	fmt.Fprintf(os.Stderr, "bench: %s: %d bound: %s\n  first bind to last: %s\n", schedName, out.bound, out.use, out.window)
	stopSched()
	sizes := map[string]int{}
	for _, j := range jobs {
		sizes[fmt.Sprint(j.number)] = j.nodes
	}
	boundByJob.Range(func(k, v any) bool {
		if n := int(v.(*atomic.Int64).Load()); n > 0 && n < sizes[k.(string)] {
			out.partial++
		}
		return true
	})
	return out, drain(ctx, env, ns)
}

// drain deletes every pod of the namespace (32 parallel deletes; a single
// DeleteCollection of thousands of pods outlives the server's timeout) and
// waits until none is left and kwok is done with them (settle).
func drain(ctx context.Context, env *k8senv.Env, ns string) error {
	list, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	work := make(chan string)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				_ = env.Client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))})
			}
		}()
	}
	for _, p := range list.Items {
		work <- p.Name
	}
	close(work)
	wg.Wait()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		l, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{Limit: 1})
		if err == nil && len(l.Items) == 0 {
			settle(ctx, env, true)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return fmt.Errorf("pods of %s not gone after 5 minutes", ns)
}

// rawCeiling pre-creates pods no scheduler claims, then binds them with 64
// parallel clients and reports binds per second. With watch, a pod
// informer on the namespace runs beside it, as the one that counts
// kube-scheduler's binds (-sched-rows bind-ceiling-watch): what such an
// observer costs the ceiling.
func rawCeiling(ctx context.Context, env *k8senv.Env, nodes []k8senv.NodeSpec, n int, watch bool) (float64, usage, error) {
	pods := buildPods("raw", "none", singleJobs(n))
	parallel(32, len(pods), func(i int) { _, _ = env.Client.CoreV1().Pods("raw").Create(ctx, pods[i], metav1.CreateOptions{}) })
	if watch {
		f := informers.NewSharedInformerFactoryWithOptions(env.Client, 0, informers.WithNamespace("raw"))
		inf := f.Core().V1().Pods().Informer()
		var seen atomic.Int64
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{UpdateFunc: func(_, o any) {
			if p, ok := o.(*corev1.Pod); ok && p.Spec.NodeName != "" {
				seen.Add(1)
			}
		}}); err != nil {
			return 0, usage{}, err
		}
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		f.Start(wctx.Done())
		toolscache.WaitForCacheSync(wctx.Done(), inf.HasSynced)
	}
	b := binder.New(env.Client, 64)
	var failed atomic.Int64
	m := startMeter(env)
	start, m0 := time.Now(), markNow(env)
	parallel(64, len(pods), func(i int) {
		err := b.BindGang(ctx, cache.PendingGang{ID: cache.GangID{Namespace: "raw", Number: uint64(i + 1)},
			Pods: []cache.PodRef{{Namespace: "raw", Name: pods[i].Name}}}, []string{nodes[i%len(nodes)].Name})
		if err != nil {
			failed.Add(1)
		}
	})
	el := time.Since(start).Seconds()
	lastBindWindow = windowOf(m0, markNow(env), n)
	use := m.stop(n)
	fmt.Fprintf(os.Stderr, "bench: raw binds: %d bound: %s\n  first bind to last: %s\n", n, use, lastBindWindow)
	if f := failed.Load(); f > 0 {
		return 0, use, fmt.Errorf("raw ceiling: %d binds failed", f)
	}
	rate := round1(float64(n) / el)
	return rate, use, drain(ctx, env, "raw")
}
