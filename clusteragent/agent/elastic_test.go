package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/elastic"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func TestParseElasticGroups(t *testing.T) {
	got, err := ParseElasticGroups("mt-cpu=cpu:0:4, mt-gpu=gpu:1:2")
	if err != nil {
		t.Fatal(err)
	}
	want := []ElasticGroup{{Name: "mt-cpu", MachineType: "cpu", Min: 0, Max: 4}, {Name: "mt-gpu", MachineType: "gpu", Min: 1, Max: 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"mt-cpu", "mt-cpu=cpu", "mt-cpu=cpu:0", "=cpu:0:1", "g=:0:1", "g=cpu:2:1", "g=cpu:0:0",
		"g=cpu:-1:2", "g=cpu:0:x", "g=cpu:0:1:2", "g=cpu:0:1,g=gpu:0:1"} {
		if _, err := ParseElasticGroups(bad); err == nil {
			t.Errorf("ParseElasticGroups(%q) accepted", bad)
		}
	}
}

// TestFlagsElastic: the -elastic-* flags give the loop's configuration;
// incomplete ones are refused before the agent starts.
func TestFlagsElastic(t *testing.T) {
	for name, tc := range map[string]struct {
		f    Flags
		want string // error text; empty: accepted
	}{
		"eks":            {f: Flags{ElasticCloud: "eks", ElasticRegion: "us-east-1", ElasticGroups: "mt-a=a:0:3"}},
		"gke":            {f: Flags{ElasticCloud: "gke", ElasticRegion: "europe-west4", ElasticProject: "p", ElasticGroups: "mt-a=a:0:3"}},
		"unknown cloud":  {f: Flags{ElasticCloud: "aks", ElasticRegion: "r", ElasticGroups: "mt-a=a:0:3"}, want: "want eks or gke"},
		"no groups":      {f: Flags{ElasticCloud: "eks", ElasticRegion: "r"}, want: "needs -elastic-groups"},
		"groups only":    {f: Flags{ElasticRegion: "r", ElasticGroups: "mt-a=a:0:3"}, want: "want eks or gke"},
		"no region":      {f: Flags{ElasticCloud: "eks", ElasticGroups: "mt-a=a:0:3"}, want: "needs -elastic-region"},
		"gke no project": {f: Flags{ElasticCloud: "gke", ElasticRegion: "r", ElasticGroups: "mt-a=a:0:3"}, want: "needs -elastic-project"},
		"bad group":      {f: Flags{ElasticCloud: "eks", ElasticRegion: "r", ElasticGroups: "mt-a=a:3:1"}, want: "want group=machine-type:min:max"},
	} {
		t.Run(name, func(t *testing.T) {
			f := tc.f
			f.NamespacePrefix, f.Kubeconfig = "flotilla", writeKubeconfig(t)
			f.ElasticIdle, f.ElasticInterval = 60e9, 5e9
			cfg, err := f.Config(func(string) string { return "" }, nil)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Elastic == nil || len(cfg.Elastic.Groups) != 1 || cfg.Elastic.IdleTime != 60e9 {
				t.Errorf("elastic config %+v", cfg.Elastic)
			}
		})
	}
}

// TestElasticInputs: the loop's view of the snapshot: a group's nodes and
// those running job pods (pods with a tenant); pending gangs with their
// machine type from the pods' node selector, one node per pod.
func TestElasticInputs(t *testing.T) {
	mt := func(name string) map[string]string { return map[string]string{LabelMachineType: name} }
	snap := scheduler.Snapshot{
		Nodes: []scheduler.Node{{Name: "a-0", Labels: mt("a")}, {Name: "a-1", Labels: mt("a")}, {Name: "a-2", Labels: mt("a")}, {Name: "b-0", Labels: mt("b")}},
		Pods: []scheduler.Pod{
			{Node: "a-0", Tenant: "acme"}, {Node: "a-0", Tenant: "acme"}, // one busy node
			{Node: "a-1"}, // a daemon pod: not a job's
			{Node: "b-0", Tenant: "acme"},
		},
	}
	if nodes, busy := groupNodes(snap, "a"); nodes != 3 || busy != 1 {
		t.Errorf("group a: %d nodes, %d busy; want 3 and 1", nodes, busy)
	}
	if nodes, busy := groupNodes(snap, "c"); nodes != 0 || busy != 0 {
		t.Errorf("group c: %d nodes, %d busy", nodes, busy)
	}
	pod := func(m string) scheduler.PodSpec { return scheduler.PodSpec{NodeSelector: mt(m)} }
	gangs := []cache.PendingGang{
		{Gang: scheduler.Gang{ID: "ns/1", Pods: []scheduler.PodSpec{pod("a"), pod("a"), pod("a")}}},
		{Gang: scheduler.Gang{ID: "ns/2", Pods: []scheduler.PodSpec{{}}}}, // no machine type: not elastic
		{Gang: scheduler.Gang{ID: "ns/3", Pods: []scheduler.PodSpec{pod("b")}}},
	}
	want := []elastic.Gang{{Job: "ns/1", MachineType: "a", Nodes: 3}, {Job: "ns/3", MachineType: "b", Nodes: 1}}
	if diff := cmp.Diff(want, pendingGangs(gangs)); diff != "" {
		t.Errorf("pending gangs (-want +got):\n%s", diff)
	}
	cp := withGrow(map[string]structs.Capacity{"a": {Free: 2, Total: 3}, "x": {Free: 1, Total: 1}}, map[string]int{"a": 1, "gone": 4})
	if diff := cmp.Diff(map[string]structs.Capacity{"a": {Free: 2, Total: 3, Grow: 1}, "x": {Free: 1, Total: 1}}, cp); diff != "" {
		t.Errorf("capacity with growth (-want +got):\n%s", diff)
	}
}

func writeKubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	const kc = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestElasticGrow: room to grow counts from the nodes a group has in the
// report's snapshot (nodes asked for but not joined yet still count as
// room; nodes that joined since the loop's last cycle do not); a group not
// seen yet claims none.
func TestElasticGrow(t *testing.T) {
	l := newElasticLoop(Elastic{Groups: []ElasticGroup{{Name: "mt-a", MachineType: "a", Max: 3}, {Name: "mt-b", MachineType: "b", Max: 2},
		{Name: "mt-c", MachineType: "c", Max: 4}}}, nil, nil, nil, newMetrics("t"), nil)
	l.joined["mt-a"], l.sizes["mt-a"] = 0, 2 // scaling up: asked 2, none joined
	l.joined["mt-b"], l.sizes["mt-b"] = 2, 2
	node := func(name, m string) scheduler.Node {
		return scheduler.Node{Name: name, Labels: map[string]string{LabelMachineType: m}}
	}
	snap := scheduler.Snapshot{Nodes: []scheduler.Node{node("b-0", "b"), node("b-1", "b")}}
	if diff := cmp.Diff(map[string]int{"a": 3, "b": 0}, l.Grow(snap)); diff != "" {
		t.Errorf("grow (-want +got):\n%s", diff)
	}
	// Both of a's nodes joined after the loop's last cycle (it still
	// counts 0): the report that shows them as free shows 1 to grow, not 3.
	snap.Nodes = append(snap.Nodes, node("a-0", "a"), node("a-1", "a"))
	if diff := cmp.Diff(map[string]int{"a": 1, "b": 0}, l.Grow(snap)); diff != "" {
		t.Errorf("grow after a's nodes joined (-want +got):\n%s", diff)
	}
}
