package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// TestMissingAppFailsJob: a job is assigned while its cluster's agent is
// down, and its app is deleted before the agent (a flotilla-agent process)
// comes back. The job ends COMPLETED_WITH_ERROR with a reason naming the
// app, and no pod of it is ever created: no substitute command runs.
func TestMissingAppFailsJob(t *testing.T) {
	if testing.Short() {
		t.Skip("requires a real control plane and the built binaries; skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	f := startProcFed(ctx, t, procFedOptions{hubs: procenv.HubOptions{Replicas: 1, Args: []string{"-dispatch-interval", "250ms"}},
		nodes: 2, appName: "ephemeral"})
	hubs, env, admin := f.hubs, f.env, f.admin
	created := watchCreations(ctx, t, env, "") // every namespace
	alice := hubs.Client(f.aliceKey)
	agent := procenv.StartAgent(t, procenv.AgentOptions{Cluster: "east", HubURLs: hubs.URLs(), Kubeconfig: env.Kubeconfig,
		BootstrapToken: f.token, Args: []string{"-heartbeat", "300ms"}})
	waitFor := func(what string, cond func() (bool, string)) {
		t.Helper()
		last := ""
		for ctx.Err() == nil {
			ok, state := cond()
			if ok {
				return
			}
			last = state
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		t.Fatalf("%s not reached: %s", what, last)
	}
	waitFor("the agent's capacity report", func() (bool, string) {
		c, err := admin.GetCluster(ctx, "east")
		if err != nil {
			return false, err.Error()
		}
		return c.Capacity["cpu"].Free >= 1, fmt.Sprint(c.Capacity)
	})

	// The agent is down while the job is assigned and its app deleted.
	agent.Stop()
	job := submit(ctx, t, alice, "ephemeral", "cpu", 1)
	waitJob(ctx, t, alice, job.ID, "assigned", func(j *structs.Job) bool { return j.State == structs.JobAssigned })
	if err := admin.DeleteApp(ctx, "ephemeral"); err != nil {
		t.Fatal(err)
	}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	done := waitJob(ctx, t, alice, job.ID, "ended", func(j *structs.Job) bool { return j.State.IsTerminal() })
	if done.State != structs.JobCompletedWithError || !strings.Contains(done.Substatus, `"ephemeral"`) {
		t.Errorf("job ended %s %q; want COMPLETED_WITH_ERROR naming the app", done.State, done.Substatus)
	}
	if pods := created.of(job.Number); len(pods) > 0 {
		t.Errorf("pods of the job were created: %v", pods)
	}
}

// creations records the name of every pod created in a namespace.
type creations struct {
	mu    sync.Mutex
	names []string
}

func watchCreations(ctx context.Context, t *testing.T, env *k8senv.Env, ns string) *creations {
	t.Helper()
	c := &creations{}
	f := informers.NewSharedInformerFactoryWithOptions(env.Client, 0, informers.WithNamespace(ns))
	inf := f.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: func(o any) {
		if p, ok := o.(*corev1.Pod); ok {
			c.mu.Lock()
			c.names = append(c.names, p.Name)
			c.mu.Unlock()
		}
	}}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	t.Cleanup(func() { cancel(); f.Shutdown() })
	f.Start(wctx.Done())
	f.WaitForCacheSync(wctx.Done())
	return c
}

// of returns the pods created for job number n.
func (c *creations) of(n uint64) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, name := range c.names {
		if strings.HasPrefix(name, podgroup.JobName(n)+"-") {
			out = append(out, name)
		}
	}
	return out
}
