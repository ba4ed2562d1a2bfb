// Command demo runs Flotilla's local demonstration: two real Kubernetes
// control planes, "east" and "west", with simulated CPU and GPU nodes. It
// prints their kubeconfig paths and runs until interrupted, then stops
// everything it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/test/k8senv"
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
	cpuNodes := flag.Int("cpu-nodes", 4, "simulated CPU nodes per cluster")
	gpuNodes := flag.Int("gpu-nodes", 2, "simulated GPU nodes per cluster")
	exitAfterStart := flag.Bool("exit-after-start", false, "stop once everything is up (for checks)")
	flag.Parse()

	abs, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	os.Setenv("FLOTILLA_BIN", abs)
	if err := os.RemoveAll(*dir); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

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

	fmt.Println("Flotilla demo is up.")
	for _, e := range envs {
		kc, _ := filepath.Abs(e.Kubeconfig)
		fmt.Printf("  cluster %-5s API %s\n", e.Name, e.APIServerURL)
		fmt.Printf("    kubeconfig: %s\n", kc)
		fmt.Printf("    try: %s/kubectl --kubeconfig %s get nodes -L flotilla.io/class\n", abs, kc)
	}
	if *exitAfterStart {
		return nil
	}
	fmt.Println("Press Ctrl-C to stop.")
	<-ctx.Done()
	return nil
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
