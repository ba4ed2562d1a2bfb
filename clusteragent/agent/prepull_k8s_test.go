package agent

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/prepull"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// listCounter counts the API server LIST calls (GETs of a collection of
// nodes or pods that are not watches) made through its transport.
type listCounter struct {
	next  http.RoundTripper
	nodes atomic.Int64
	pods  atomic.Int64
}

func (c *listCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && r.URL.Query().Get("watch") != "true" {
		switch {
		case strings.HasSuffix(r.URL.Path, "/nodes"):
			c.nodes.Add(1)
		case strings.HasSuffix(r.URL.Path, "/pods"):
			c.pods.Add(1)
		}
	}
	return c.next.RoundTrip(r)
}

// catalogHub serves an agent catalog that a test changes; a watch waits
// for the next change.
type catalogHub struct {
	mu      sync.Mutex
	cat     structs.AgentCatalog
	changed chan struct{}
}

func (h *catalogHub) set(apps []structs.AgentApp) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cat = structs.AgentCatalog{Apps: apps, Index: h.cat.Index + 1}
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *catalogHub) AgentCatalog(ctx context.Context, _ string, index uint64, wait time.Duration) (*structs.AgentCatalog, error) {
	h.mu.Lock()
	cat, ch := h.cat, h.changed
	h.mu.Unlock()
	if index < cat.Index {
		return &cat, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
	case <-ch:
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.cat
	return &c, nil
}

// TestPrePullReadsInformerCaches: the pre-pull syncer reads the nodes
// from the agent's node informer (the scheduler cache) and the pull pods
// from its own informer, and skips passes while nothing changed. Against
// a real control plane, with every API call of the cache and the syncer
// counted: with an empty catalog, a passes-every-10ms syncer makes no
// LIST of nodes or pods after the informers' first (the old syncer made
// two per pass) and skips its passes; an app added to the catalog is
// pulled onto the nodes and a node added later gets its pull, still
// without a LIST. A credential Secret a former agent left is deleted at
// the first pass though the catalog has no credential; an app's
// credential gets a Secret, deleted when the credential is removed.
func TestPrePullReadsInformerCaches(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	env := k8senv.Start(t, k8senv.Options{Name: "prepull-lists"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cpu := func(name string) k8senv.NodeSpec {
		return k8senv.NodeSpec{Name: name, CPU: "16", Memory: "64Gi", Labels: map[string]string{"pool": "cpu"}}
	}
	if err := env.AddNodes(ctx, cpu("n0"), cpu("n1")); err != nil {
		t.Fatal(err)
	}
	counter := &listCounter{}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter })
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(kc, cache.Options{})
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// A credential Secret a former agent left in the pull namespace.
	secrets := kc.CoreV1().Secrets(prepull.DefaultNamespace)
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: prepull.DefaultNamespace}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pullcred-00000000deadbeef",
		Labels: map[string]string{prepull.LabelCredential: "true"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	credSecrets := func() int {
		l, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: prepull.LabelCredential + "=true"})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	hub := &catalogHub{changed: make(chan struct{})}
	hub.set([]structs.AgentApp{})
	s := &prepull.Syncer{Hub: hub, Cluster: "east", Kube: kc, Nodes: prepullNodes(c), Now: time.Now,
		Options:      prepull.Options{Interval: 10 * time.Millisecond},
		MachineTypes: func() []*structs.MachineType { return []*structs.MachineType{{Name: "cpu", Properties: "pool=cpu"}} },
		Resolve:      func(context.Context, string, string) ([]string, error) { return []string{"linux/amd64"}, nil }}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.Run(sctx) }()
	defer func() { stop(); <-done }()

	wait := func(what string, cond func() bool) {
		t.Helper()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for !cond() {
			select {
			case <-ctx.Done():
				ran, skipped := s.Passes()
				t.Fatalf("%s: not reached (passes run %d, skipped %d; LISTs: nodes %d, pods %d)\n%s", what, ran, skipped,
					counter.nodes.Load(), counter.pods.Load(), prepullState(env, c, s))
			case <-tick.C:
			}
		}
	}
	wait("a first pass", func() bool { return s.Report() != nil })
	wait("the left-over credential Secret deleted (no app has a credential)", func() bool { return credSecrets() == 0 })
	nodes0, pods0 := counter.nodes.Load(), counter.pods.Load()
	ran0, skipped0 := s.Passes()
	wait("50 passes skipped", func() bool { _, sk := s.Passes(); return sk >= skipped0+50 })
	if ran, _ := s.Passes(); ran != ran0 {
		t.Errorf("with nothing changed %d passes ran", ran-ran0)
	}
	if n, p := counter.nodes.Load()-nodes0, counter.pods.Load()-pods0; n != 0 || p != 0 {
		t.Errorf("with an empty catalog: %d node and %d pod LISTs, want none", n, p)
	}

	ready := func(n int) func() bool {
		return func() bool {
			r := s.Report()
			on := r.Apps["solver"].MachineTypes["cpu"]
			return r != nil && on.State == structs.AppReady && on.Ready == n
		}
	}
	hub.set([]structs.AgentApp{{Name: "solver", Image: "r.example/solver:1", MachineTypes: []string{"cpu"}}})
	wait("solver ready on 2 nodes", ready(2))
	if err := env.AddNodes(ctx, cpu("n2")); err != nil {
		t.Fatal(err)
	}
	wait("solver ready on the new node too", ready(3))
	if n, p := counter.nodes.Load()-nodes0, counter.pods.Load()-pods0; n != 0 || p != 0 {
		t.Errorf("pulling: %d node and %d pod LISTs, want none", n, p)
	}
	// The app's pull credential gets a Secret, deleted once the
	// credential is removed from the catalog.
	solver := structs.AgentApp{Name: "solver", Image: "r.example/solver:1", MachineTypes: []string{"cpu"},
		PullSecret: `{"auths":{"r.example":{"auth":"YTpi"}}}`}
	hub.set([]structs.AgentApp{solver})
	wait("the credential's Secret made", func() bool { return credSecrets() == 1 })
	solver.PullSecret = ""
	hub.set([]structs.AgentApp{solver})
	wait("the credential's Secret deleted", func() bool { return credSecrets() == 0 })

	// The counter sees a LIST (informers start with a watch that sends
	// the initial objects, so they make none).
	if _, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil || counter.nodes.Load() != nodes0+1 {
		t.Errorf("a node LIST counted %d times (%v)", counter.nodes.Load()-nodes0, err)
	}
	ran, skipped := s.Passes()
	t.Logf("passes run %d, skipped %d; LISTs before the first pass: nodes %d, pods %d", ran, skipped, nodes0, pods0)
}

// prepullState describes what a failed wait saw: the cache's nodes, the
// pull pods (node, phase) and the syncer's report.
func prepullState(env *k8senv.Env, c *cache.Cache, s *prepull.Syncer) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	nodes, gen, ok := c.Nodes()
	fmt.Fprintf(&b, "cache nodes (gen %d, synced %v):", gen, ok)
	for _, n := range nodes {
		fmt.Fprintf(&b, " %s(unschedulable %v)", n.Name, n.Unschedulable)
	}
	pods, err := env.Client.CoreV1().Pods(prepull.DefaultNamespace).List(ctx, metav1.ListOptions{})
	fmt.Fprintf(&b, "\npull pods (%v):", err)
	if err == nil {
		for _, p := range pods.Items {
			fmt.Fprintf(&b, " %s on %s %s (deleting %v)", p.Name, p.Spec.NodeName, p.Status.Phase, p.DeletionTimestamp != nil)
		}
	}
	fmt.Fprintf(&b, "\nreport: %+v", s.Report())
	return b.String()
}
