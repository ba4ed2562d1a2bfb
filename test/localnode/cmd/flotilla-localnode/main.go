// Command flotilla-localnode registers Kubernetes nodes whose pods run as
// real processes on this machine (package localnode): for the demo and the
// end-to-end tests. It needs root.
//
//	flotilla-localnode -kubeconfig K -nodes east-local-0,east-local-1 -cpu 4 -memory 8Gi \
//	    -labels pool=mpi -state-dir /run/flotilla-localnode/east -prefix fe -subnet 10.214.1.0/24 \
//	    -image ghcr.io/flotilla-hpc/flotilla-init=/path/to/dir-with-flotilla-init  (no tag: every tag)
//
// `flotilla-localnode container-init` is how it starts each container (not
// for use by hand).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flotilla-hpc/flotilla/test/localnode"
	"github.com/flotilla-hpc/flotilla/test/localnode/container"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == localnode.InitCommand {
		// fd 3: the spec; fd 4: the status pipe (see localnode.spawn).
		// Neither may leak into the container's command.
		syscall.CloseOnExec(3)
		syscall.CloseOnExec(4)
		os.Exit(container.Init(os.NewFile(3, "spec"), os.NewFile(4, "status")))
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-localnode:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		kubecfg  = flag.String("kubeconfig", "", "kubeconfig of the cluster (required)")
		names    = flag.String("nodes", "", "comma-separated node names (required)")
		cpu      = flag.String("cpu", "4", "CPU capacity of each node")
		memory   = flag.String("memory", "8Gi", "memory capacity of each node")
		pods     = flag.Int("pods", 110, "pod capacity of each node")
		labels   = flag.String("labels", "", "extra node labels, k=v,...")
		taints   = flag.String("taints", "", "node taints, key=value:Effect,...")
		stateDir = flag.String("state-dir", "/run/flotilla-localnode/default", "where this process records what it makes (one per process)")
		prefix   = flag.String("prefix", "fln", "network namespace name prefix (<= 9 bytes, one per process)")
		subnet   = flag.String("subnet", "10.214.0.0/24", "pod addresses")
		images   = flag.String("image", "", "IMAGE=DIR,...: a directory layered over the host root for containers of IMAGE")
		listen   = flag.String("listen", "127.0.0.1:0", "kubelet API address (logs)")
		clientCA = flag.String("client-ca", "", "CA file whose client certificates the kubelet API requires (else loopback only)")
		scratch  = flag.String("scratch", "1Gi", "each container's writable root layer (memory)")
		shm      = flag.String("shm", "256Mi", "each container's /dev/shm")
		podsMem  = flag.String("pods-memory", "4Gi", "memory for all pods' files (volumes, logs)")
		grace    = flag.Duration("grace", 5*time.Second, "pods' SIGTERM grace period at shutdown")
	)
	flag.Parse()
	if *kubecfg == "" || *names == "" {
		return fmt.Errorf("-kubeconfig and -nodes are required")
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root: it makes network and mount namespaces and runs pods as their users")
	}
	kc, err := clientcmd.BuildConfigFromFlags("", *kubecfg)
	if err != nil {
		return err
	}
	kc.QPS, kc.Burst = 200, 400
	client, err := kubernetes.NewForConfig(kc)
	if err != nil {
		return err
	}
	sub, err := netip.ParsePrefix(*subnet)
	if err != nil {
		return fmt.Errorf("-subnet: %w", err)
	}
	var q [5]resource.Quantity
	for i, s := range []string{*cpu, *memory, *scratch, *shm, *podsMem} {
		if q[i], err = resource.ParseQuantity(s); err != nil {
			return fmt.Errorf("quantity %q: %w", s, err)
		}
	}
	lbl, err := keyValues(*labels)
	if err != nil {
		return fmt.Errorf("-labels: %w", err)
	}
	imgs, err := keyValues(*images)
	if err != nil {
		return fmt.Errorf("-image: %w", err)
	}
	tnts, err := parseTaints(*taints)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var specs []localnode.NodeSpec
	for _, n := range strings.Split(*names, ",") {
		if n = strings.TrimSpace(n); n != "" {
			specs = append(specs, localnode.NodeSpec{Name: n, CPU: q[0], Memory: q[1], Pods: *pods, Labels: lbl, Taints: tnts})
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return localnode.Run(ctx, localnode.Config{
		Client: client, Nodes: specs, StateDir: *stateDir, Prefix: *prefix, Subnet: sub, Images: imgs,
		Listen: *listen, ClientCA: *clientCA,
		Sizes:     localnode.Sizes{Scratch: q[2].Value(), Shm: q[3].Value()},
		PodsBytes: q[4].Value(), Self: self, Grace: *grace, Now: time.Now, Log: log,
	}, func() { fmt.Println("flotilla-localnode: ready") })
}

func keyValues(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want KEY=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

func parseTaints(s string) ([]corev1.Taint, error) {
	var out []corev1.Taint
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		kv, effect, ok := strings.Cut(t, ":")
		k, v, _ := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-taints %q: want key=value:Effect", t)
		}
		out = append(out, corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)})
	}
	return out, nil
}
