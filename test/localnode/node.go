package localnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// LabelLocalNode is set ("true") on every local node.
const LabelLocalNode = "flotilla.io/localnode"

// Config is one node process: its nodes and where it keeps what it makes.
type Config struct {
	Client kubernetes.Interface
	Nodes  []NodeSpec

	StateDir string       // see State
	Prefix   string       // network namespace names start with it (<= 9 bytes)
	Subnet   netip.Prefix // pod addresses
	// Images maps an image name to a directory layered over the host root
	// for the containers naming it (e.g. the init image: a directory
	// holding /flotilla-init). Other images are the host root alone.
	Images map[string]string
	Listen string // kubelet API address (host:port; port 0 picks one)
	// ClientCA, when set, is the CA whose client certificates the kubelet
	// API requires (the API server's --kubelet-client-certificate).
	ClientCA  string
	Sizes     Sizes
	PodsBytes int64         // the tmpfs holding every pod's files
	Self      string        // this binary (re-executed as container-init)
	Grace     time.Duration // pods' SIGTERM grace at shutdown
	Now       func() time.Time
	Log       *slog.Logger
}

// NodeSpec is one node's name, capacity and labels.
type NodeSpec struct {
	Name        string
	CPU, Memory resource.Quantity
	Pods        int
	Labels      map[string]string
	Taints      []corev1.Taint
}

// Run cleans up what an earlier process left in the state directory, makes
// the pod network, registers the nodes and runs their pods until ctx ends;
// then it stops every pod and removes every namespace, mount and file it
// made. ready, if not nil, is called once every node is Ready.
func Run(ctx context.Context, cfg Config, ready func()) error {
	if len(cfg.Nodes) == 0 {
		return errNoNodes
	}
	log := cfg.Log
	ip, err := exec.LookPath("ip")
	if err != nil {
		return fmt.Errorf("ip(8) is needed (Debian package iproute2): %w", err)
	}
	state, err := NewState(cfg.StateDir, log)
	if err != nil {
		return err
	}
	cleaned, err := state.Clean(ctx, ip)
	if err != nil {
		return fmt.Errorf("clean up after an earlier run: %w", err)
	}
	for _, ns := range NamespacesWithPrefix(cfg.Prefix) { // made but not yet recorded
		if err := DeleteNS(ctx, ip, ns); err != nil {
			return err
		}
		cleaned.Namespaces++
	}
	if cleaned != (Cleaned{}) {
		log.Info("removed what an earlier run left", "processes", cleaned.Processes, "namespaces", cleaned.Namespaces,
			"mounts", cleaned.Mounts, "pod_dirs", cleaned.PodDirs)
	}
	nw, err := NewNetwork(cfg.Prefix, cfg.Subnet)
	if err != nil {
		return err
	}
	defer func() {
		// Everything made below, also on a failed start.
		bg := context.Background()
		c, err := state.Clean(bg, ip)
		if err != nil {
			log.Error("clean up", "err", err)
		}
		log.Info("stopped: removed pods' processes, namespaces, mounts and files",
			"processes", c.Processes, "namespaces", c.Namespaces, "mounts", c.Mounts, "pod_dirs", c.PodDirs)
	}()
	if err := state.MountPods(cfg.PodsBytes); err != nil {
		return err
	}
	if err := state.RecordNS(nw.SwitchNS()); err != nil {
		return err
	}
	if err := nw.Create(ctx); err != nil {
		return err
	}
	sh := &shared{net: nw, state: state, hosts: newHostsTable(), self: cfg.Self, images: cfg.Images,
		sizes: cfg.Sizes, now: cfg.Now, log: log}

	var mu sync.Mutex
	var providers []*provider
	srv, err := listenKubelet(cfg.Listen, cfg.ClientCA, cfg.Now(), func() []*provider {
		mu.Lock()
		defer mu.Unlock()
		return append([]*provider(nil), providers...)
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	host, _, _ := net.SplitHostPort(cfg.Listen)

	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(cfg.Nodes))
	var nodes []*nodeutil.Node
	for _, spec := range cfg.Nodes {
		n, err := nodeutil.NewNode(spec.Name, func(pc nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) {
			p := newProvider(ctx, sh, objects{secrets: pc.Secrets, configMaps: pc.ConfigMaps, client: cfg.Client})
			mu.Lock()
			providers = append(providers, p)
			mu.Unlock()
			return p, nil, nil
		}, nodeutil.WithClient(cfg.Client), func(nc *nodeutil.NodeConfig) error {
			nc.SkipDownwardAPIResolution = true // resolved here, with the pod IP known
			nc.NumWorkers = min(runtime.NumCPU(), 4)
			nc.HTTPListenAddr = cfg.Listen
			nc.Handler, nc.TLSConfig = nil, nil // one server for all nodes
			describeNode(&nc.NodeSpec, spec, host, srv.Port())
			return nil
		})
		if err != nil {
			return fmt.Errorf("node %s: %w", spec.Name, err)
		}
		nodes = append(nodes, n)
		wg.Go(func() {
			if err := n.Run(nctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("node %s: %w", spec.Name, err)
			}
		})
	}
	for i, n := range nodes {
		if err := n.WaitReady(ctx, 2*time.Minute); err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("node %s not ready: %w", cfg.Nodes[i].Name, err)
		}
	}
	log.Info("nodes ready", "nodes", len(nodes), "kubelet_port", srv.Port(), "subnet", cfg.Subnet, "state", state.Dir)
	if ready != nil {
		ready()
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	mu.Lock()
	ps := append([]*provider(nil), providers...)
	mu.Unlock()
	var sw sync.WaitGroup
	for _, p := range ps {
		sw.Go(func() { p.shutdown(cfg.Grace) })
	}
	sw.Wait()
	cancel()
	wg.Wait()
	markNotReady(cfg.Client, cfg.Nodes, cfg.Now(), log)
	return runErr
}

// describeNode fills the node object: labels, capacity, the kubelet
// endpoint (its only address, so the API server dials it), system info.
func describeNode(n *corev1.Node, spec NodeSpec, host string, port int) {
	for k, v := range spec.Labels {
		n.Labels[k] = v
	}
	n.Labels[LabelLocalNode] = "true"
	n.Labels["type"] = "flotilla-localnode"
	n.Labels["kubernetes.io/os"] = "linux"
	n.Labels["kubernetes.io/arch"] = runtime.GOARCH
	n.Spec.Taints = spec.Taints
	pods := spec.Pods
	if pods == 0 {
		pods = 110
	}
	res := corev1.ResourceList{
		corev1.ResourceCPU:    spec.CPU,
		corev1.ResourceMemory: spec.Memory,
		corev1.ResourcePods:   *resource.NewQuantity(int64(pods), resource.DecimalSI),
	}
	n.Status.Capacity, n.Status.Allocatable = res, res.DeepCopy()
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: host}}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	n.Status.NodeInfo = corev1.NodeSystemInfo{
		OperatingSystem: "linux", Architecture: runtime.GOARCH,
		KubeletVersion: "flotilla-localnode", ContainerRuntimeVersion: "flotilla-localnode://" + strconv.Itoa(1),
	}
}

// markNotReady tells the API server the nodes stopped (best effort).
func markNotReady(c kubernetes.Interface, specs []NodeSpec, now time.Time, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range specs {
		n, err := c.CoreV1().Nodes().Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		for i := range n.Status.Conditions {
			if n.Status.Conditions[i].Type == corev1.NodeReady {
				n.Status.Conditions[i].Status = corev1.ConditionFalse
				n.Status.Conditions[i].Reason = "LocalNodeStopped"
				n.Status.Conditions[i].Message = "flotilla-localnode stopped"
				n.Status.Conditions[i].LastTransitionTime = metav1.NewTime(now)
			}
		}
		if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			log.Debug("mark node not ready", "node", s.Name, "err", err)
		}
	}
}
