package procenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/test/proc"
)

// AgentOptions say which cluster an agent process serves.
type AgentOptions struct {
	// Cluster is the cluster's name at the hub.
	Cluster string
	// HubURLs are the hub replicas' API URLs.
	HubURLs []string
	// Kubeconfig is the cluster's admin kubeconfig (k8senv.Env.Kubeconfig).
	Kubeconfig string
	// BootstrapToken is the one-time token the first start registers with;
	// the agent key it gets is kept in Dir and used by every restart.
	BootstrapToken string
	// NamespacePrefix of the tenant namespaces the jobs run in (default
	// the agent's, podgroup.DefaultNamespacePrefix).
	NamespacePrefix string
	// Args are extra flags.
	Args []string
	// Dir holds the key file and the log (default t.TempDir()).
	Dir string
	// CAFile, when set, is the hub CA the agent trusts from the start;
	// else the agent pins the CA named in the bootstrap token and keeps it
	// in Dir.
	CAFile string
}

// Agent is one flotilla-agent process and what survives its restarts.
type Agent struct {
	Cluster string
	LogPath string
	// Starts counts the processes started.
	Starts int

	t    testing.TB
	bin  string
	dir  string
	args []string
	mu   sync.Mutex
	p    *proc.Process
}

// StartAgent starts a flotilla-agent process. It stops when the test ends;
// its log is printed if the test failed.
func StartAgent(t testing.TB, opts AgentOptions) *Agent {
	t.Helper()
	bin, err := proc.FindBin("flotilla-agent")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	a := &Agent{Cluster: opts.Cluster, t: t, bin: bin, dir: opts.Dir,
		LogPath: filepath.Join(opts.Dir, "agent-"+opts.Cluster+".log")}
	tokFile := filepath.Join(opts.Dir, "bootstrap-token-"+opts.Cluster)
	if err := os.WriteFile(tokFile, []byte(opts.BootstrapToken), 0o600); err != nil {
		t.Fatal(err)
	}
	a.args = append([]string{
		"-cluster", opts.Cluster, "-hub", strings.Join(opts.HubURLs, ","),
		"-kubeconfig", opts.Kubeconfig,
		"-agent-key-file", filepath.Join(opts.Dir, "agent-key-"+opts.Cluster),
		"-bootstrap-token-file", tokFile,
		// Several agents share this host: each serves its metrics on a
		// free port, not the default :9460.
		"-metrics-addr", "127.0.0.1:0",
	}, opts.Args...)
	caFile := opts.CAFile
	if caFile == "" {
		caFile = filepath.Join(opts.Dir, "hub-ca-"+opts.Cluster+".crt")
	}
	a.args = append(a.args, "-hub-ca-file", caFile)
	if opts.NamespacePrefix != "" {
		a.args = append(a.args, "-namespace-prefix", opts.NamespacePrefix)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- agent %s (%s), last lines ---\n%s", a.Cluster, a.LogPath, proc.TailFile(a.LogPath, 40))
		}
		a.Stop()
	})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	return a
}

// Start starts the agent's process (again, after Kill or Stop).
func (a *Agent) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.p != nil && !a.p.Exited() {
		return fmt.Errorf("procenv: agent %s is running", a.Cluster)
	}
	a.Starts++
	if f, err := os.OpenFile(a.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(f, "=== procenv: start %d of agent %s ===\n", a.Starts, a.Cluster)
		f.Close()
	}
	p, err := proc.Start(a.dir, "agent-"+a.Cluster, a.bin, a.args, proc.Options{Append: true})
	if err != nil {
		return err
	}
	a.p = p
	return nil
}

// Kill sends SIGKILL to the agent and waits until it is gone.
func (a *Agent) Kill() {
	a.mu.Lock()
	p := a.p
	a.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// Stop stops the agent gracefully (SIGTERM).
func (a *Agent) Stop() {
	a.mu.Lock()
	p := a.p
	a.mu.Unlock()
	if p != nil {
		p.Stop(10 * time.Second)
	}
}

// Exited returns how the agent's last process ended, or nil while it runs.
func (a *Agent) Exited() error {
	a.mu.Lock()
	p := a.p
	a.mu.Unlock()
	if p == nil || !p.Exited() {
		return nil
	}
	return fmt.Errorf("agent %s exited (code %d): %v\n%s", a.Cluster, p.ExitCode(), p.Err(), proc.TailFile(a.LogPath, 30))
}

// WaitExit waits until the agent's process ends and returns how it ended.
func (a *Agent) WaitExit(ctx context.Context) error {
	a.mu.Lock()
	p := a.p
	a.mu.Unlock()
	if p == nil {
		return fmt.Errorf("procenv: agent %s was never started", a.Cluster)
	}
	select {
	case <-p.Done():
		return a.Exited()
	case <-ctx.Done():
		return fmt.Errorf("procenv: agent %s still runs: %w", a.Cluster, ctx.Err())
	}
}
