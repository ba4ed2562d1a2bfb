// Package e2e runs Flotilla whole, as users meet it: hub replicas over raft,
// real Kubernetes control planes with an agent each, and jobs submitted
// through the public API.
package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// fed is a running federation.
type fed struct {
	t      *testing.T
	hubs   *hubtest.Cluster
	admin  *client.Client
	envs   map[string]*k8senv.Env
	agents map[string]context.CancelFunc
	// metrics are the agents' /metrics addresses.
	metrics map[string]string
	wg      sync.WaitGroup
	// agentAdjust, if set, adjusts the cluster half of agents started
	// after it is set (runtime options).
	agentAdjust func(*agent.ClusterConfig)
	// agentWithout, if set, names features the agent of a cluster does
	// not report (agent.Config.WithoutFeatures: an older agent).
	agentWithout map[string][]structs.AgentFeature
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// startFed starts n hub replicas (dispatching) and one control plane per
// cluster name, each with the given simulated nodes.
func startFed(t *testing.T, n int, clusters map[string][]k8senv.NodeSpec) *fed {
	t.Helper()
	f := &fed{t: t, envs: map[string]*k8senv.Env{}, agents: map[string]context.CancelFunc{}, metrics: map[string]string{}}
	f.hubs = hubtest.New(t, n, hubtest.Options{
		NoSync: true,
		Configure: func(_ int, cfg *hub.Config) {
			cfg.Dispatch = &hub.DispatchOptions{Interval: 250 * time.Millisecond, AcceptTimeout: time.Minute}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := f.hubs.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.admin, err = client.New(f.hubs.URLs(), f.hubs.AdminKey); err != nil {
		t.Fatal(err)
	}
	var opts []k8senv.Options
	for name := range clusters {
		opts = append(opts, k8senv.Options{Name: name})
	}
	envs := k8senv.StartAll(t, opts...)
	var wg sync.WaitGroup
	for _, env := range envs {
		f.envs[env.Name] = env
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The nodes get their own minute: the start may have
			// used most of the setup's deadline on a loaded machine.
			nctx, ncancel := context.WithTimeout(context.Background(), time.Minute)
			defer ncancel()
			if err := env.AddNodes(nctx, clusters[env.Name]...); err != nil {
				t.Errorf("%s: %v", env.Name, err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Cleanup(f.stopAgents)
	return f
}

// live returns the index of a running replica.
func (f *fed) live() int { return f.hubs.Live()[0] }

// addCluster registers a cluster at the hub and starts its agent.
func (f *fed) addCluster(ctx context.Context, name string, labels map[string]string) {
	f.t.Helper()
	if _, err := f.admin.PutCluster(ctx, name, &structs.ClusterSpec{Labels: labels}); err != nil {
		f.t.Fatal(err)
	}
	// The agent registers with a one-time bootstrap token, as in production.
	tok, err := f.admin.CreateBootstrapToken(ctx, name)
	if err != nil {
		f.t.Fatal(err)
	}
	f.startAgent(name, tok.Key)
}

func (f *fed) startAgent(name, bootstrapToken string) {
	f.t.Helper()
	a, err := agent.New(agent.Config{Cluster: name, HubURLs: f.hubs.URLs(), BootstrapToken: bootstrapToken, Kube: f.envs[name].Config,
		Image: "solver:1", Heartbeat: 300 * time.Millisecond, Log: quietLog(), MetricsAddr: "127.0.0.1:0", Adjust: f.agentAdjust,
		WithoutFeatures: f.agentWithout[name]})
	if err != nil {
		f.t.Fatal(err)
	}
	f.metrics[name] = "http://" + a.MetricsAddr().String() + "/metrics"
	actx, cancel := context.WithCancel(context.Background())
	f.agents[name] = cancel
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		if err := a.Run(actx); err != nil && actx.Err() == nil {
			f.t.Errorf("agent %s: %v", name, err)
		}
	}()
}

func (f *fed) stopAgents() {
	for _, c := range f.agents {
		c()
	}
	f.wg.Wait()
}

// userClient creates a user with an API key and returns a client for it.
func (f *fed) userClient(ctx context.Context, username, tenant string, groups ...string) *client.Client {
	f.t.Helper()
	if _, err := f.admin.PutUser(ctx, username, &structs.UserSpec{Tenant: tenant, Role: structs.RoleUser, Groups: groups}); err != nil {
		f.t.Fatal(err)
	}
	k, err := f.admin.CreateAPIKey(ctx, username, "e2e")
	if err != nil {
		f.t.Fatal(err)
	}
	return f.clientFor(k.Key)
}

// clientFor is a client of the hub with an API key.
func (f *fed) clientFor(key string) *client.Client {
	f.t.Helper()
	c, err := client.New(f.hubs.URLs(), key)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// waitJob polls a job until cond holds.
func waitJob(ctx context.Context, t *testing.T, c *client.Client, id, what string, cond func(*structs.Job) bool) *structs.Job {
	t.Helper()
	var last *structs.Job
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		j, err := c.GetJob(ctx, id, false)
		if err == nil {
			last = j
			if cond(j) {
				return j
			}
		}
		select {
		case <-ctx.Done():
			if last != nil {
				t.Fatalf("job %s: %s not reached: state %s cluster %q substatus %q", id, what, last.State, last.Cluster, last.Substatus)
			}
			t.Fatalf("job %s: %s not reached: %v", id, what, err)
		case <-tick.C:
		}
	}
}

func nodes(prefix string, n int, cpu string) []k8senv.NodeSpec {
	out := make([]k8senv.NodeSpec, n)
	for i := range out {
		out[i] = k8senv.NodeSpec{Name: fmt.Sprintf("%s-%d", prefix, i), CPU: cpu, Memory: "64Gi"}
	}
	return out
}
