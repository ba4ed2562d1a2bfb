// Command demo runs Flotilla on one machine: hub replicas (raft over
// loopback TCP), two real Kubernetes control planes "east" and "west", each
// with simulated CPU and GPU nodes (kwok) and local nodes whose pods run as
// real processes (flotilla-localnode), an agent for each cluster, a demo
// tenant, machine types pinned to each cluster and burst rules. It runs a
// real 4-rank `mpirun` hello across 4 pods to completion and shows its
// output through the hub, then a second wave of jobs that fills east so one
// bursts to west, prints every job's timeline, and serves until
// interrupted. Local nodes need root.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/localnodes"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	bin := flag.String("bin", "bin", "directory holding the control-plane binaries")
	dir := flag.String("dir", ".demo", "directory for the demo's data, logs and kubeconfigs")
	replicas := flag.Int("replicas", envInt("REPLICAS", 1), "hub replicas (1, 3 or 5; env REPLICAS)")
	cpuNodes := flag.Int("cpu-nodes", 4, "simulated CPU nodes per cluster")
	gpuNodes := flag.Int("gpu-nodes", 2, "simulated GPU nodes per cluster")
	localNodes := flag.Int("local-nodes", 4, "local nodes (pods as real processes) in east; west gets half")
	exitAfterStart := flag.Bool("exit-after-start", false, "stop once the demo's jobs are done (for checks)")
	flag.Parse()
	if *replicas != 1 && *replicas != 3 && *replicas != 5 {
		return fmt.Errorf("replicas must be 1, 3 or 5, not %d", *replicas)
	}
	abs, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	os.Setenv("FLOTILLA_BIN", abs)
	if os.Geteuid() != 0 {
		return fmt.Errorf("the demo's local nodes run pods as real processes in network and mount namespaces: run it as root")
	}
	if err := os.RemoveAll(*dir); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	absDir, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	scripts, err := writeScripts(absDir)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Control planes.
	names := []string{"east", "west"}
	envs := make([]*k8senv.Env, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := filepath.Join(*dir, name)
			if err := os.MkdirAll(d, 0o755); err != nil {
				errs[i] = err
				return
			}
			env, err := k8senv.StartEnv(ctx, k8senv.Options{Name: name, Dir: d})
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", name, err)
				return
			}
			envs[i] = env
			errs[i] = env.AddNodes(ctx, demoNodes(name, *cpuNodes, *gpuNodes)...)
		}()
	}
	wg.Wait()
	defer func() {
		for _, e := range envs {
			if e != nil {
				e.Stop()
			}
		}
		fmt.Println("demo: stopped every process it started")
	}()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}

	// Local nodes beside the kwok nodes: their pods are real processes.
	var locals []*localnodes.Process
	defer func() {
		for _, l := range locals {
			l.Stop()
		}
	}()
	for i, e := range envs {
		n := *localNodes
		if i > 0 {
			n = max(1, n/2)
		}
		var nodes []string
		for k := range n {
			nodes = append(nodes, fmt.Sprintf("%s-local-%d", e.Name, k))
		}
		l, err := localnodes.Start(ctx, e.Client, localnodes.Options{
			Name: e.Name, Nodes: nodes, CPU: "1", Memory: "4Gi",
			Prefix: "fld" + e.Name[:1], Subnet: fmt.Sprintf("10.214.%d.0/24", i+1),
			Kubeconfig: e.Kubeconfig, ClientCA: e.CAFile, Dir: absDir,
		})
		if err != nil {
			return fmt.Errorf("%s local nodes: %w", e.Name, err)
		}
		locals = append(locals, l)
	}

	// Hub replicas.
	hubs, err := hubtest.Start(filepath.Join(*dir, "hub"), *replicas, hubtest.Options{Configure: func(_ int, cfg *hub.Config) {
		cfg.Dispatch = &hub.DispatchOptions{AcceptTimeout: 0}
	}})
	if err != nil {
		return err
	}
	defer hubs.StopAll()
	adm, err := client.New(hubs.URLs(), hubs.AdminKey)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := waitHub(sctx, adm); err != nil {
		return err
	}
	agentKeys, aliceKey, err := setupFederation(sctx, adm, scripts)
	if err != nil {
		return fmt.Errorf("setting up the demo federation: %w", err)
	}

	// One agent per cluster.
	actx, stopAgents := context.WithCancel(ctx)
	var awg sync.WaitGroup
	defer func() { stopAgents(); awg.Wait() }()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, e := range envs {
		a, err := agent.New(agent.Config{Cluster: e.Name, HubURLs: hubs.URLs(), AgentKey: agentKeys[e.Name], Kube: e.Config,
			Image: "flotilla/mpi-hello:demo", Heartbeat: time.Second, Log: quiet})
		if err != nil {
			return err
		}
		awg.Add(1)
		go func() { defer awg.Done(); _ = a.Run(actx) }()
	}

	// Submit once both agents have reported their capacity, so placement
	// sees the clusters as they are.
	if err := waitCapacity(sctx, adm, "east", "west"); err != nil {
		return err
	}
	alice, err := client.New(hubs.URLs(), aliceKey)
	if err != nil {
		return err
	}
	jctx, cancelJobs := context.WithTimeout(ctx, 5*time.Minute)
	defer cancelJobs()

	// The sample: a real mpirun hello across 4 pods on east's local nodes.
	sample, err := submit(jctx, alice, "(sample)", "run", "l1-east", 4)
	if err != nil {
		return err
	}
	if err := poll(jctx, alice, []*tracked{sample}, terminal); err != nil {
		return fmt.Errorf("sample job did not end: %w", err)
	}
	printTimeline(sample)
	fmt.Printf("\nsample job %s\n", sample.job.State)
	showOutput(abs, hubs.URL(0), aliceKey, sample.job)

	// The second wave: east's local nodes fill up, so the last job bursts
	// to west once the rule's wait is over.
	fmt.Println("\nsecond wave: fill east's local nodes, then one more job")
	var wave []*tracked
	for _, w := range []struct {
		label string
		nodes int
	}{{"(fills east)", *localNodes}, {"(east full: bursts)", max(1, *localNodes/2)}} {
		t, err := submit(jctx, alice, w.label, "work", "l1-east", w.nodes)
		if err != nil {
			return err
		}
		wave = append(wave, t)
	}
	if err := poll(jctx, alice, wave, terminal); err != nil {
		return fmt.Errorf("second wave did not end: %w", err)
	}
	for _, t := range wave {
		printTimeline(t)
	}
	for _, e := range envs {
		pods, err := e.Client.CoreV1().Pods(metav1.NamespaceAll).List(sctx, metav1.ListOptions{LabelSelector: podgroup.LabelManaged + "=true"})
		if err == nil && len(pods.Items) > 0 {
			fmt.Printf("\npods left in %s (finished jobs keep theirs until cleaned up):\n", e.Name)
			for _, p := range pods.Items {
				fmt.Printf("  pod %-8s %-7s on node %-14s %-9s %s\n", p.Name, p.Labels[podgroup.LabelRole], p.Spec.NodeName, p.Status.Phase, p.Status.PodIP)
			}
		}
	}

	fmt.Println("\nFlotilla demo is up.")
	fmt.Printf("  portal: %s/ui/  (every replica serves it: %v)\n", hubs.URL(0), hubs.URLs())
	fmt.Printf("    administrator: root / %s\n    user:          alice / %s  (the sample job is on her jobs page)\n",
		portalLogins["root"], portalLogins["alice"])
	fmt.Printf("    sample job page: %s/ui/jobs/%s\n", hubs.URL(0), sample.job.ID)
	fmt.Printf("  hub (%d replica(s)): %v\n", *replicas, hubs.URLs())
	fmt.Printf("  admin API key: %s\n  alice's API key: %s\n", hubs.AdminKey, aliceKey)
	fmt.Printf("  try: %s/flotilla --hub %s --api-key %s jobs\n", abs, hubs.URL(0), aliceKey)
	for _, e := range envs {
		kc, _ := filepath.Abs(e.Kubeconfig)
		fmt.Printf("  cluster %-5s API %s\n    kubeconfig: %s\n", e.Name, e.APIServerURL, kc)
		fmt.Printf("    try: %s/kubectl --kubeconfig %s get nodes -L flotilla.io/class\n", abs, kc)
	}
	if *exitAfterStart {
		return nil
	}
	fmt.Println("Press Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}

func waitHub(ctx context.Context, c *client.Client) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if leader, err := c.Ready(ctx); err == nil && leader != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("hub has no leader: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func waitCapacity(ctx context.Context, c *client.Client, clusters ...string) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for _, name := range clusters {
		for {
			cl, err := c.GetCluster(ctx, name)
			if err == nil && len(cl.Capacity) > 0 {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("cluster %s reported no capacity: %w", name, ctx.Err())
			case <-tick.C:
			}
		}
	}
	return nil
}

func envInt(name string, def int) int {
	var v int
	if _, err := fmt.Sscan(os.Getenv(name), &v); err == nil {
		return v
	}
	return def
}

// demoNodes returns the simulated nodes of one cluster: CPU nodes and tainted GPU nodes.
func demoNodes(cluster string, cpu, gpu int) []k8senv.NodeSpec {
	var specs []k8senv.NodeSpec
	for i := range cpu {
		specs = append(specs, k8senv.NodeSpec{
			Name: fmt.Sprintf("%s-cpu-%d", cluster, i), CPU: "32", Memory: "128Gi",
			Labels: map[string]string{"flotilla.io/class": "cpu", "flotilla.io/cluster": cluster},
		})
	}
	for i := range gpu {
		specs = append(specs, k8senv.NodeSpec{
			Name: fmt.Sprintf("%s-gpu-%d", cluster, i), CPU: "64", Memory: "512Gi", GPUs: 8,
			Labels: map[string]string{"flotilla.io/class": "gpu", "flotilla.io/cluster": cluster},
			Taints: []corev1.Taint{{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}},
		})
	}
	return specs
}
