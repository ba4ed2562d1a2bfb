package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/localnodes"
)

// arrayCPUBind is the array job's task_cpu_bind ("": flotilla-init's
// default), to measure the binding in alternated runs.
var arrayCPUBind = flag.String("array-cpu-bind", "", "the array table's task_cpu_bind: none or slots (default: flotilla-init's)")

// agentLog is the in-process agent's log, a file in dir.
func agentLog(dir string) *slog.Logger {
	f, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(f, nil))
}

// arrayTable runs tasks of /bin/true as a Flotilla array job on 4 local
// nodes × 8 slots, then a batch/v1 Indexed Job of /bin/true on the same
// control plane (kube-controller-manager's Job controller, kube-scheduler)
// and the same nodes, each from submission to its end. It needs root.
func arrayTable(ctx context.Context, tasks, completions int) (*report, error) {
	r := &report{title: fmt.Sprintf("Array jobs: %d tasks of /bin/true on 4 local nodes × 8 slots, against a Kubernetes Indexed Job of %d completions", tasks, completions)}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("the array table needs root (local nodes make namespaces)")
	}
	dir, err := os.MkdirTemp("", "flotilla-bench-array-")
	if err != nil {
		return nil, err
	}
	hubs, err := hubtest.Start(filepath.Join(dir, "hub"), 1, hubtest.Options{Configure: func(_ int, cfg *hub.Config) {
		cfg.Dispatch = &hub.DispatchOptions{AcceptTimeout: 0}
	}})
	if err != nil {
		return nil, err
	}
	defer hubs.StopAll()
	env, err := k8senv.StartEnv(ctx, k8senv.Options{Name: "array", Scheduler: true})
	if err != nil {
		return nil, err
	}
	defer env.Stop()
	nodes := []string{"ba-0", "ba-1", "ba-2", "ba-3"}
	// A /20: every pod of the Indexed Job keeps its address until the Job
	// is deleted (a /24 ran out after about 250 completions).
	ln, err := localnodes.Start(ctx, env.Client, localnodes.Options{Name: "bench", Nodes: nodes, CPU: "8", Memory: "16Gi",
		Prefix: "fbench", Subnet: "10.219.0.0/20", Kubeconfig: env.Kubeconfig, ClientCA: env.CAFile, Dir: dir})
	if err != nil {
		return nil, err
	}
	defer ln.Remove()

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
	steps := []func() error{
		func() error { _, err := adm.PutTenant(ctx, &structs.Tenant{Name: "bench"}); return err },
		func() error { _, err := adm.PutCluster(ctx, "array", &structs.ClusterSpec{}); return err },
		func() error {
			_, err := adm.PutMachineType(ctx, &structs.MachineType{Name: "l8", Cores: 8, Slots: 8, RAM: 1, ScaleMin: 1, ScaleMax: 4,
				Cluster: "array", Properties: localnodes.Label + "=true"})
			return err
		},
		func() error {
			_, err := adm.PutApp(ctx, &structs.App{Name: "true", Visibility: structs.VisibilityPublic, Image: "debian:stable",
				AppDef: structs.AppDef{Name: "true", Commands: map[string]structs.Command{"run": {Path: "/bin/true"}}}})
			return err
		},
		func() error {
			_, err := adm.PutUser(ctx, "bench", &structs.UserSpec{Tenant: "bench", Role: structs.RoleUser})
			return err
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	key, err := adm.CreateAgentKey(ctx, "array")
	if err != nil {
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
	a, err := agent.New(agent.Config{Cluster: "array", HubURLs: hubs.URLs(), AgentKey: key.Key, Kube: env.Config,
		Image: "debian:stable", Heartbeat: 500 * time.Millisecond, Log: agentLog(dir)})
	if err != nil {
		return nil, err
	}
	actx, stopAgent := context.WithCancel(ctx)
	defer stopAgent()
	go func() {
		if err := a.Run(actx); err != nil && actx.Err() == nil {
			fmt.Fprintln(os.Stderr, "bench: array agent:", err)
		}
	}()

	spec := structs.ArraySpec{Start: 1, End: tasks}
	var planePIDs []int
	for _, pid := range env.PIDs() {
		planePIDs = append(planePIDs, pid)
	}
	// CPU of the local nodes (their pods: flotilla-init and the tasks,
	// counted once each pod's processes were waited for) and of the rest
	// (control plane, in-process hub and agent): robust under load, where
	// the rate is not.
	nodeCPU0, restCPU0 := cpuOf(ln.Pid()), cpuOf(planePIDs...)+selfCPU()
	load0 := loadAverage()
	sctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	inits := sampleInits(sctx, 100*time.Millisecond)
	start := time.Now()
	j, err := user.SubmitJob(ctx, structs.JobSubmitRequest{ID: "array-bench", App: "true", Command: "run",
		MachineType: "l8", Nodes: 4, Array: &spec, TaskCPUBind: *arrayCPUBind})
	if err != nil {
		return nil, err
	}
	var running, lastSay time.Time
	jctx, jcancel := context.WithTimeout(ctx, 10*time.Minute)
	defer jcancel()
	for {
		cur, err := user.GetJob(jctx, j.ID, false)
		if err == nil && running.IsZero() && cur.State == structs.JobRunning {
			running = time.Now()
		}
		if err == nil && cur.State.IsTerminal() {
			j = cur
			break
		}
		if err == nil && time.Since(lastSay) > 15*time.Second {
			lastSay = time.Now()
			fmt.Fprintf(os.Stderr, "bench: array job %s %s (%s) after %s\n", cur.Name, cur.State, cur.Substatus, time.Since(start).Round(time.Second))
		}
		if jctx.Err() != nil {
			return nil, fmt.Errorf("array job did not end: %w (last %+v); agent log in %s", jctx.Err(), cur, dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	// The head pod's processes are counted once the node waited for them.
	var nodeCPU time.Duration
	for w := time.Now(); time.Since(w) < 5*time.Second; time.Sleep(100 * time.Millisecond) {
		nodeCPU = cpuOf(ln.Pid()) - nodeCPU0
		if pods, err := env.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err == nil && allEnded(pods.Items) {
			nodeCPU = cpuOf(ln.Pid()) - nodeCPU0
			break
		}
	}
	restCPU := cpuOf(planePIDs...) + selfCPU() - restCPU0
	stopSampling()
	initSelf, taskProcs := inits.totals()
	if j.State != structs.JobCompleted || j.Array == nil || j.Array.Progress == nil || j.Array.Progress.Succeeded != tasks {
		return nil, fmt.Errorf("array job ended %s (%s): %+v", j.State, j.Substatus, j.Array)
	}
	arrayRate := float64(tasks) / took.Seconds()
	r.add("array_tasks_per_sec", arrayRate, "tasks/s", fmt.Sprintf("Flotilla array job, submit → end (%s; allocation start %s; load average %s → %s; task CPU binding %q)",
		took.Round(time.Millisecond), running.Sub(start).Round(time.Millisecond), load0, loadAverage(), j.TaskCPUBind()))
	r.add("array_cpu_ms_per_task", float64(nodeCPU)/float64(tasks)/1e6, "ms", "CPU of the local nodes' pods per task: flotilla-init (dispatcher, workers) and the task processes")
	perTask := func(d time.Duration) float64 { return float64(d) / float64(tasks) / 1e6 }
	r.add("array_task_proc_cpu_ms", perTask(taskProcs), "ms", "of which the task processes themselves (flotilla-init's waited children)")
	r.add("array_init_cpu_ms_per_task", perTask(initSelf), "ms", "of which flotilla-init itself (dispatcher, workers, starting and waiting for tasks; sampled every 100 ms)")
	r.add("array_node_other_cpu_ms_per_task", perTask(nodeCPU-initSelf-taskProcs), "ms", "of which the rest: the node process, its container helpers, flotilla-init's last 100 ms")
	if floor, err := forkExecFloor(1000); err == nil {
		r.add("fork_exec_floor_cpu_ms", float64(floor)/1e6, "ms", fmt.Sprintf("CPU of one start of /bin/true, parent and child (a ceiling of %.0f tasks/s on %d idle cores)",
			float64(runtime.NumCPU())/floor.Seconds(), runtime.NumCPU()))
	}
	if parent, child, err := forkExecFloorSplit(1024, 1); err == nil {
		r.add("fork_exec_floor_child_cpu_ms", float64(child)/1e6, "ms", fmt.Sprintf("of which the child, one start at a time (parent %.2f ms)", float64(parent)/1e6))
	}
	if parent, child, err := forkExecFloorSplit(1024, 32); err == nil {
		r.add("fork_exec_floor_cpu_ms_32way", float64(parent+child)/1e6, "ms", fmt.Sprintf("the same with 32 starts at once, as 4 nodes × 8 slots run them (child %.2f ms, parent %.2f ms)",
			float64(child)/1e6, float64(parent)/1e6))
	}
	r.add("array_cpu_ms_per_task_all", float64(nodeCPU+restCPU)/float64(tasks)/1e6, "ms", "the same plus the control plane, hub and agent")
	if d := j.EndTime.Sub(j.StartTime); d > 0 {
		r.add("array_tasks_per_sec_running", float64(tasks)/d.Seconds(), "tasks/s", "Flotilla array job, job start → end (the hub's times)")
	}
	stopAgent()

	// The Indexed Job: one pod per completion, scheduled by kube-scheduler.
	if err := env.CreateNamespace(ctx, "idx"); err != nil {
		return nil, err
	}
	if err := env.WaitServiceAccount(ctx, "idx"); err != nil {
		return nil, err
	}
	mode := batchv1.IndexedCompletion
	one := resource.MustParse("1")
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "indexed", Namespace: "idx"},
		Spec: batchv1.JobSpec{
			Completions: new(int32(completions)), Parallelism: new(int32(32)), CompletionMode: &mode,
			BackoffLimit: new(int32(0)),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy:                corev1.RestartPolicyNever,
				AutomountServiceAccountToken: new(false),
				NodeSelector:                 map[string]string{localnodes.Label: "true"},
				Containers: []corev1.Container{{Name: "task", Image: "debian:stable", Command: []string{"/bin/true"},
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: one}}}},
			}},
		},
	}
	start = time.Now()
	if _, err := env.Client.BatchV1().Jobs("idx").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	for {
		cur, err := env.Client.BatchV1().Jobs("idx").Get(ctx, "indexed", metav1.GetOptions{})
		if err == nil && int(cur.Status.Succeeded) >= completions {
			break
		}
		if err == nil && cur.Status.Failed > 0 {
			return nil, fmt.Errorf("indexed job: %d pods failed", cur.Status.Failed)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("indexed job did not complete: %w", ctx.Err())
		}
		time.Sleep(100 * time.Millisecond)
	}
	took = time.Since(start)
	idxRate := float64(completions) / took.Seconds()
	note := fmt.Sprintf("batch/v1 Indexed Job, create → %d succeeded (%s)", completions, took.Round(time.Millisecond))
	if completions < tasks {
		note += fmt.Sprintf("; %d completions, not %d: a pod per task is too slow to run them all here", completions, tasks)
	}
	r.add("k8s_indexed_job_pods_per_sec", idxRate, "pods/s", note)
	r.add("array_vs_indexed_job", arrayRate/idxRate, "x", "array tasks/s over Indexed Job pods/s")
	os.RemoveAll(dir) // kept, with the agent's log, when the table fails
	return r, nil
}

// allEnded reports whether every pod has ended (Succeeded or Failed).
func allEnded(pods []corev1.Pod) bool {
	for _, p := range pods {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			return false
		}
	}
	return true
}
