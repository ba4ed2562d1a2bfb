// Package localnodes starts flotilla-localnode processes (module
// test/localnode) beside a k8senv control plane, for tests and the demo:
// nodes whose pods run as real processes, each in its own network and mount
// namespaces. The binary comes from ./bin (`make build`); it needs root.
package localnodes

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/flotilla-hpc/flotilla/test/proc"
)

// Label is set ("true") on every local node.
const Label = "flotilla.io/localnode"

// InitImage is the image repository local nodes map to a directory
// holding flotilla-init at its root, whatever its tag: the agent's default
// init image (this repository at the agent's version) runs /flotilla-init
// from it.
const InitImage = "ghcr.io/flotilla-hpc/flotilla-init"

// Options describe one node process.
type Options struct {
	Name       string   // names the process, its log and its state (e.g. "east")
	Nodes      []string // node names
	CPU        string   // per node, default "4"
	Memory     string   // per node, default "8Gi"
	Labels     map[string]string
	Prefix     string // network namespace prefix, <= 9 bytes, unique per process
	Subnet     string // pod addresses, default 10.214.0.0/24
	Kubeconfig string // the cluster's admin kubeconfig
	ClientCA   string // the cluster CA (k8senv.Env.CAFile): the log endpoint requires its client certificates
	Dir        string // logs and the state directory
	// InitBinary is the flotilla-init binary the init image provides
	// (default: flotilla-init beside flotilla-localnode).
	InitBinary string
	// Images maps further image names to directories layered over the
	// host root (flotilla-localnode -image).
	Images map[string]string
}

// Process is a running (or stopped) flotilla-localnode and what survives
// its restarts: the state directory and the options.
type Process struct {
	Opts     Options
	StateDir string
	bin      string
	args     []string
	p        *proc.Process
	starts   int
}

// Start starts the node process and waits until its nodes are Ready.
func Start(ctx context.Context, client kubernetes.Interface, opts Options) (*Process, error) {
	bin, err := proc.FindBin("flotilla-localnode")
	if err != nil {
		return nil, err
	}
	if opts.CPU == "" {
		opts.CPU = "4"
	}
	if opts.Memory == "" {
		opts.Memory = "8Gi"
	}
	if opts.Subnet == "" {
		opts.Subnet = "10.214.0.0/24"
	}
	if opts.InitBinary == "" {
		opts.InitBinary = filepath.Join(filepath.Dir(bin), "flotilla-init")
	}
	initDir := filepath.Join(opts.Dir, opts.Name+"-init-image")
	if err := os.MkdirAll(initDir, 0o755); err != nil {
		return nil, err
	}
	// The init image's one file: the host's flotilla-init at /flotilla-init.
	link := filepath.Join(initDir, "flotilla-init")
	os.Remove(link)
	if err := os.Symlink(opts.InitBinary, link); err != nil {
		return nil, err
	}
	var labels []string
	for k, v := range opts.Labels {
		labels = append(labels, k+"="+v)
	}
	images := []string{InitImage + "=" + initDir}
	for name, dir := range opts.Images {
		images = append(images, name+"="+dir)
	}
	p := &Process{Opts: opts, bin: bin, StateDir: filepath.Join(opts.Dir, opts.Name+"-state")}
	p.args = []string{
		"-kubeconfig", opts.Kubeconfig,
		"-nodes", strings.Join(opts.Nodes, ","),
		"-cpu", opts.CPU, "-memory", opts.Memory,
		"-labels", strings.Join(labels, ","),
		"-state-dir", p.StateDir,
		"-prefix", opts.Prefix, "-subnet", opts.Subnet,
		"-image", strings.Join(images, ","),
		"-grace", "3s",
	}
	if opts.ClientCA != "" {
		p.args = append(p.args, "-client-ca", opts.ClientCA)
	}
	return p, p.Restart(ctx, client)
}

// Restart starts the process again (after Stop or Kill) with the same
// state directory, and waits until its nodes are Ready.
func (p *Process) Restart(ctx context.Context, client kubernetes.Interface) error {
	var err error
	p.p, err = proc.Start(p.Opts.Dir, "localnode-"+p.Opts.Name, p.bin, p.args, proc.Options{Append: p.starts > 0})
	if err != nil {
		return err
	}
	p.starts++
	return p.waitReady(ctx, client)
}

// waitReady waits until every node's Ready condition is True with a
// heartbeat from this process.
func (p *Process) waitReady(ctx context.Context, client kubernetes.Interface) error {
	since := time.Now().Add(-time.Second)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if p.p.Exited() {
			return fmt.Errorf("flotilla-localnode %s exited: %v\n%s", p.Opts.Name, p.p.Err(), p.p.Tail(30))
		}
		ready := 0
		for _, name := range p.Opts.Nodes {
			n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err == nil && readySince(n, since) {
				ready++
			}
		}
		if ready == len(p.Opts.Nodes) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("local nodes %v not ready: %w\n%s", p.Opts.Nodes, ctx.Err(), p.p.Tail(30))
		case <-t.C:
		}
	}
}

func readySince(n *corev1.Node, since time.Time) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue && c.LastHeartbeatTime.After(since)
		}
	}
	return false
}

// Stop stops the process with SIGTERM (a clean stop: it removes what it made).
func (p *Process) Stop() { p.p.Stop(30 * time.Second) }

// Kill SIGKILLs the process: what it made stays until the next start.
func (p *Process) Kill() { p.p.Kill() }

// Pid is the running process's id.
func (p *Process) Pid() int { return p.p.Pid() }

// LogPath is the process's log.
func (p *Process) LogPath() string { return p.p.LogPath }

// Tail is the end of the process's log.
func (p *Process) Tail(n int) string { return p.p.Tail(n) }

// Leftovers lists what remains on the machine of this process's pods: named
// network namespaces with its prefix, mounts below its state directory,
// processes whose command line holds marker (empty: not checked) and
// files below its pods directory.
func (p *Process) Leftovers(marker string) []string {
	var out []string
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), p.Opts.Prefix) {
			out = append(out, "network namespace "+e.Name())
		}
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 4 && (f[4] == p.StateDir || strings.HasPrefix(f[4], p.StateDir+"/")) {
				out = append(out, "mount "+f[4])
			}
		}
	}
	if marker != "" {
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, c := range procs {
			if b, err := os.ReadFile(c); err == nil && strings.Contains(string(b), marker) {
				out = append(out, fmt.Sprintf("process %s: %s", filepath.Base(filepath.Dir(c)), strings.ReplaceAll(string(b), "\x00", " ")))
			}
		}
	}
	pods, _ := os.ReadDir(filepath.Join(p.StateDir, "pods"))
	for _, e := range pods {
		out = append(out, "pod files "+e.Name())
	}
	return out
}

// Remove stops the process and then removes by force whatever it left (a
// test's cleanup, also after a failure): namespaces with its prefix and
// mounts below its state directory.
func (p *Process) Remove() {
	if p.p != nil {
		p.Stop()
	}
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), p.Opts.Prefix) {
			exec.Command("ip", "netns", "del", e.Name()).Run()
		}
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		lines := strings.Split(string(b), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			f := strings.Fields(lines[i])
			if len(f) > 4 && (f[4] == p.StateDir || strings.HasPrefix(f[4], p.StateDir+"/")) {
				syscall.Unmount(f[4], syscall.MNT_DETACH)
			}
		}
	}
}
