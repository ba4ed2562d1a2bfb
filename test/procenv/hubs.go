// Package procenv runs Flotilla's shipped binaries as separate OS
// processes for crash tests: hub replicas (flotilla-hub) and agents
// (flotilla-agent), started from ./bin, killed with SIGKILL — no graceful
// close, so a missing fsync or a half-done write shows — and started again
// from the same data directory and ports.
package procenv

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
	"github.com/flotilla-hpc/flotilla/test/proc"
)

// HubOptions tune StartHubs; the zero value runs 3 replicas on the
// default log store with fsync on.
type HubOptions struct {
	// Replicas is the number of replicas (default 3).
	Replicas int
	// LogStore is passed as -log-store ("" keeps the default).
	LogStore string
	// Args are extra flags for every replica.
	Args []string
	// Dir holds data directories, secrets and logs (default t.TempDir()).
	Dir string
	// Insecure runs plain HTTP and plain raft (-insecure-http) instead of
	// TLS with a CA made for the test.
	Insecure bool
	// AdminKey is the bootstrap administrator's API key ("": a new one).
	AdminKey string
	// Prepare, if set, runs for every replica before its first start,
	// with the flags it will start with (e.g. to restore a backup into
	// its data directory).
	Prepare func(r *Replica, args []string) error
}

// Hubs is a hub cluster of flotilla-hub processes.
type Hubs struct {
	// AdminKey is the bootstrap administrator's API key.
	AdminKey string
	// Dir holds every replica's data directory and log.
	Dir string
	// CAFile is the hub CA clients check the replicas against ("" when
	// Insecure).
	CAFile string

	t        testing.TB
	bin      string
	args     []string
	mu       sync.Mutex
	replicas []*Replica
}

// Replica is one flotilla-hub process and what survives its restarts.
type Replica struct {
	ID       string
	URL      string // http://127.0.0.1:PORT
	RaftAddr string
	DataDir  string
	LogPath  string
	// Starts counts the processes started for this replica.
	Starts int
	args   []string
	p      *proc.Process
}

// StartHubs starts a bootstrapped cluster of flotilla-hub processes and
// waits until it has a leader. Everything stops when the test ends; the
// replicas' logs are printed if it failed.
func StartHubs(t testing.TB, opts HubOptions) *Hubs {
	t.Helper()
	if opts.Replicas <= 0 {
		opts.Replicas = 3
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	bin, err := proc.FindBin("flotilla-hub")
	if err != nil {
		t.Fatal(err)
	}
	h := &Hubs{AdminKey: opts.AdminKey, Dir: opts.Dir, t: t, bin: bin}
	if h.AdminKey == "" {
		h.AdminKey = "admin-" + rand.Text()
	}
	secretFile := filepath.Join(opts.Dir, "internal-secret")
	keyFile := filepath.Join(opts.Dir, "admin-key")
	if err := os.WriteFile(secretFile, []byte(rand.Text()+rand.Text()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(h.AdminKey), 0o600); err != nil {
		t.Fatal(err)
	}
	ports, err := proc.FreePorts(2 * opts.Replicas)
	if err != nil {
		t.Fatal(err)
	}
	scheme := "https"
	pki := filepath.Join(opts.Dir, "pki")
	if opts.Insecure {
		scheme = "http"
	} else {
		if _, err := hubtls.InitCA(pki, time.Now()); err != nil {
			t.Fatal(err)
		}
		h.CAFile = filepath.Join(pki, hubtls.CACertFile)
	}
	var boot []string
	for i := range opts.Replicas {
		r := &Replica{
			ID:       fmt.Sprintf("hub%d", i),
			URL:      fmt.Sprintf("%s://127.0.0.1:%d", scheme, ports[2*i]),
			RaftAddr: fmt.Sprintf("127.0.0.1:%d", ports[2*i+1]),
		}
		r.DataDir = filepath.Join(opts.Dir, r.ID)
		r.LogPath = filepath.Join(opts.Dir, r.ID+".log")
		h.replicas = append(h.replicas, r)
		boot = append(boot, r.ID+"="+r.RaftAddr+"="+r.URL)
	}
	for _, r := range h.replicas {
		r.args = []string{
			"-id", r.ID, "-data-dir", r.DataDir,
			"-http-addr", hostPort(r.URL), "-api-advertise", r.URL,
			"-raft-bind", r.RaftAddr, "-raft-advertise", r.RaftAddr,
			"-bootstrap", strings.Join(boot, ","),
			"-internal-secret-file", secretFile, "-admin-api-key-file", keyFile,
			// Slower raft timing than the defaults: the tests run on a
			// loaded 2-core machine, where a starved leader's last contact
			// with its followers is 1-2 s old (seen: 1.0-1.9 s at load 30,
			// nice 19) and 1 s leases lapse spuriously, and where a
			// follower goes 2 s without a heartbeat now and then.
			"-raft-heartbeat-timeout", "3s", "-raft-election-timeout", "3s", "-raft-leader-lease-timeout", "2s",
		}
		if opts.Insecure {
			r.args = append(r.args, "-insecure-http")
		} else {
			cert, key, err := hubtls.IssueInDir(pki, r.ID, []string{"127.0.0.1", "localhost"}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			r.args = append(r.args, "-tls-cert", cert, "-tls-key", key, "-client-ca", h.CAFile)
		}
		if opts.LogStore != "" {
			r.args = append(r.args, "-log-store", opts.LogStore)
		}
		r.args = append(r.args, opts.Args...)
	}
	t.Cleanup(func() {
		if t.Failed() {
			h.dumpLogs()
		}
		h.StopAll()
	})
	for _, r := range h.replicas {
		if opts.Prepare != nil {
			if err := opts.Prepare(r, append([]string(nil), r.args...)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range h.replicas {
		if err := h.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := h.Leader(ctx); err != nil {
		t.Fatalf("procenv: no leader: %v", err)
	}
	return h
}

// N is the number of replicas.
func (h *Hubs) N() int { return len(h.replicas) }

// Replica returns replica i.
func (h *Hubs) Replica(i int) *Replica {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.replicas[i]
}

// URLs are the replicas' API base URLs.
func (h *Hubs) URLs() []string {
	var out []string
	for _, r := range h.replicas {
		out = append(out, r.URL)
	}
	return out
}

// Start starts replica i's process from its data directory (again, after
// Kill or Stop). It returns once the process runs, not once it is ready.
func (h *Hubs) Start(i int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.replicas[i]
	if r.p != nil && !r.p.Exited() {
		return fmt.Errorf("procenv: %s is running", r.ID)
	}
	r.Starts++
	if f, err := os.OpenFile(r.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(f, "=== procenv: start %d of %s ===\n", r.Starts, r.ID)
		f.Close()
	}
	p, err := proc.Start(h.Dir, r.ID, h.bin, r.args, proc.Options{Append: true})
	if err != nil {
		return err
	}
	r.p = p
	return nil
}

// Kill sends SIGKILL to replica i and waits until it is gone.
func (h *Hubs) Kill(i int) {
	h.mu.Lock()
	p := h.replicas[i].p
	h.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// Stop stops replica i gracefully (SIGTERM).
func (h *Hubs) Stop(i int) {
	h.mu.Lock()
	p := h.replicas[i].p
	h.mu.Unlock()
	if p != nil {
		p.Stop(10 * time.Second)
	}
}

// StopAll stops every replica.
func (h *Hubs) StopAll() {
	for i := range h.replicas {
		h.Stop(i)
	}
}

// Running reports whether replica i's process runs.
func (h *Hubs) Running(i int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.replicas[i].p
	return p != nil && !p.Exited()
}

// Exited returns how replica i's last process ended, or nil while it runs.
func (h *Hubs) Exited(i int) error {
	h.mu.Lock()
	r := h.replicas[i]
	h.mu.Unlock()
	if r.p == nil || !r.p.Exited() {
		return nil
	}
	return fmt.Errorf("%s exited (code %d): %v\n%s", r.ID, r.p.ExitCode(), r.p.Err(), proc.TailFile(r.LogPath, 30))
}

// ErrExited means a replica's process ended while a test waited on it.
var ErrExited = errors.New("procenv: process exited")

// WaitCaughtUp waits until replica i runs, is ready and has applied
// everything its leader had committed: a consistent read through it
// succeeds. It fails at once if the process exits.
func (h *Hubs) WaitCaughtUp(ctx context.Context, i int) error {
	cl, err := client.New([]string{h.replicas[i].URL}, h.AdminKey, client.WithRetryTimeout(2*time.Second), h.tlsOption())
	if err != nil {
		return err
	}
	defer cl.CloseIdleConnections()
	var last error
	for {
		if err := h.Exited(i); err != nil {
			return fmt.Errorf("%w: %v", ErrExited, err)
		}
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, last = cl.ListReplicas(rctx, true)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("procenv: %s not caught up: %v (last: %v)", h.replicas[i].ID, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Leader returns the index of the replica the running replicas agree
// leads, waiting until there is one.
func (h *Hubs) Leader(ctx context.Context) (int, error) {
	var last error
	for {
		for i, r := range h.replicas {
			if !h.Running(i) {
				continue
			}
			cl, err := client.New([]string{r.URL}, h.AdminKey, client.WithRetryTimeout(time.Second), h.tlsOption())
			if err != nil {
				return -1, err
			}
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			rs, err := cl.ListReplicas(rctx, true)
			cancel()
			cl.CloseIdleConnections()
			if err != nil {
				last = err
				continue
			}
			for _, s := range rs {
				if s.Leader {
					for k, r := range h.replicas {
						if r.ID == s.ID && h.Running(k) {
							return k, nil
						}
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("procenv: no leader: %v (last: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Client returns a client of every replica with a long retry budget, the
// way an application would call a hub whose replicas come and go.
func (h *Hubs) Client(key string, opts ...client.Option) *client.Client {
	hc := &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{TLSClientConfig: h.TLSConfig(), ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64}}
	opts = append([]client.Option{client.WithRetryTimeout(90 * time.Second),
		client.WithBackoff(10*time.Millisecond, 300*time.Millisecond),
		client.WithHTTPClient(hc)}, opts...)
	cl, err := client.New(h.URLs(), key, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(cl.CloseIdleConnections)
	return cl
}

// TLSConfig trusts the hub's CA (nil when Insecure).
func (h *Hubs) TLSConfig() *tls.Config {
	if h.CAFile == "" {
		return nil
	}
	tc, err := hubtls.ClientFromCAFile(h.CAFile)
	if err != nil {
		h.t.Fatal(err)
	}
	return tc
}

func (h *Hubs) tlsOption() client.Option { return client.WithTLS(h.TLSConfig()) }

func (h *Hubs) dumpLogs() {
	for _, r := range h.replicas {
		h.t.Logf("--- %s (%s), last lines ---\n%s", r.ID, r.LogPath, proc.TailFile(r.LogPath, 40))
	}
}

// Fixture is what Seed creates: tenant acme with user alice (API key
// Key), cluster east, machine type n1 pinned to it and public app solver.
type Fixture struct {
	Tenant, User, Key, Cluster, MachineType, App string
}

// Seed creates the Fixture through the API as the administrator.
func (h *Hubs) Seed(ctx context.Context) (Fixture, error) {
	f := Fixture{Tenant: "acme", User: "alice", Cluster: "east", MachineType: "n1", App: "solver"}
	admin := h.Client(h.AdminKey)
	steps := []func() error{
		func() error { _, err := admin.PutTenant(ctx, &structs.Tenant{Name: f.Tenant}); return err },
		func() error {
			_, err := admin.PutCluster(ctx, f.Cluster, &structs.ClusterSpec{Zone: "z1"})
			return err
		},
		func() error {
			_, err := admin.PutMachineType(ctx, &structs.MachineType{Name: f.MachineType, Cores: 4, Slots: 4, RAM: 16,
				ScaleMin: 1, ScaleMax: 16, Cluster: f.Cluster})
			return err
		},
		func() error {
			_, err := admin.PutApp(ctx, &structs.App{Name: f.App, Visibility: structs.VisibilityPublic,
				AppDef: structs.AppDef{Name: "Solver", Commands: map[string]structs.Command{"Run": {Path: "/run.sh"}}}})
			return err
		},
		func() error {
			_, err := admin.PutUser(ctx, f.User, &structs.UserSpec{Tenant: f.Tenant, Role: structs.RoleUser})
			return err
		},
		func() error {
			k, err := admin.CreateAPIKey(ctx, f.User, "tests")
			if err == nil {
				f.Key = k.Key
			}
			return err
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return f, err
		}
	}
	return f, nil
}

// WaitExit waits until replica i's process ends and returns its exit code.
func (h *Hubs) WaitExit(ctx context.Context, i int) (int, error) {
	h.mu.Lock()
	p := h.replicas[i].p
	h.mu.Unlock()
	if p == nil {
		return -1, fmt.Errorf("procenv: %s was never started", h.replicas[i].ID)
	}
	select {
	case <-p.Done():
		return p.ExitCode(), nil
	case <-ctx.Done():
		return -1, fmt.Errorf("procenv: %s still runs: %w", h.replicas[i].ID, ctx.Err())
	}
}

// Bin is the flotilla-hub binary the replicas run.
func (h *Hubs) Bin() string { return h.bin }

// LastOutput is what replica i's latest process wrote.
func (h *Hubs) LastOutput(i int) string {
	h.mu.Lock()
	r := h.replicas[i]
	h.mu.Unlock()
	b, err := os.ReadFile(r.LogPath)
	if err != nil {
		return ""
	}
	marker := fmt.Sprintf("=== procenv: start %d of %s ===\n", r.Starts, r.ID)
	s := string(b)
	if k := strings.LastIndex(s, marker); k >= 0 {
		return s[k+len(marker):]
	}
	return s
}

// hostPort is the host:port of a base URL.
func hostPort(u string) string {
	_, rest, _ := strings.Cut(u, "://")
	return rest
}
