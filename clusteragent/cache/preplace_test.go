package cache

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
)

// podsOnNodes sums the snapshot's pods per node.
func podsOnNodes(s scheduler.Snapshot) map[string]int {
	out := map[string]int{}
	for _, p := range s.Pods {
		out[p.Node]++
	}
	return out
}

// TestAssumeNew: a gang assumed before its pods exist counts on its nodes,
// is not pending, keeps its pods unbound-but-assumed when the informer
// shows them unbound, and is dropped again by ForgetNew; a gang with a pod
// the cache knows is not assumed.
func TestAssumeNew(t *testing.T) {
	c := New(nil, Options{})
	c.setNode(testNode("a"))
	c.setNode(testNode("b"))
	fresh := func(p *corev1.Pod) *corev1.Pod { p.UID, p.ResourceVersion = "", ""; return p }
	pods := []*corev1.Pod{fresh(testPod(7, 1, 2, "")), fresh(testPod(7, 0, 2, ""))}
	g, err := NewGang(pods, SecretRef{Name: "j7"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Pods[0].Rank != 0 || g.Pods[1].Rank != 1 || g.Gang.ID != "jobs/7" {
		t.Fatalf("gang %+v: want rank order and id jobs/7", g)
	}
	if !c.AssumeNew(g, []string{"a", "b"}) {
		t.Fatal("AssumeNew refused a new gang")
	}
	if c.AssumeNew(g, []string{"a", "b"}) {
		t.Error("AssumeNew took a gang twice")
	}
	// The head created unbound: assumed, never pending.
	c.setPod(testPod(7, 0, 2, ""))
	snap, gangs, partial := c.Snapshot()
	if diff := cmp.Diff(map[string]int{"a": 1, "b": 1}, podsOnNodes(snap)); diff != "" {
		t.Errorf("pods on nodes (-want +got):\n%s", diff)
	}
	if len(gangs) != 0 || len(partial) != 0 || c.HasPending() {
		t.Errorf("an assumed new gang is pending: %v %v", gangs, partial)
	}
	c.ForgetNew(g.Pods)
	snap, _, _ = c.Snapshot()
	if len(snap.Pods) != 0 || c.HasPending() {
		t.Errorf("after ForgetNew: %d pods placed, pending %v", len(snap.Pods), c.HasPending())
	}
	// A gang with a pod the cache knows (pending) is not created anew.
	c.setPod(testPod(8, 0, 1, ""))
	g8, err := NewGang([]*corev1.Pod{fresh(testPod(8, 0, 1, ""))}, SecretRef{})
	if err != nil {
		t.Fatal(err)
	}
	if c.AssumeNew(g8, []string{"a"}) {
		t.Error("AssumeNew took a gang whose pod is pending")
	}
	if _, err := NewGang([]*corev1.Pod{testPod(9, 0, 2, "")}, SecretRef{}); err == nil {
		t.Error("NewGang took half a gang")
	}
}

// TestAssumeNewLeft: a pre-placed create left to level 2 (every pod
// created, the head unbound: binder.ErrLeftToLevel2) is taken as the
// informer shows it: the head the informer showed while it was assumed
// becomes pending, its gang a partly bound one level 2 completes, and the
// head no longer counts on the node it was never bound to.
func TestAssumeNewLeft(t *testing.T) {
	c := New(nil, Options{})
	c.setNode(testNode("a"))
	c.setNode(testNode("b"))
	store := toolscache.NewStore(toolscache.MetaNamespaceKeyFunc)
	c.podStore.Store(&store)
	fresh := func(p *corev1.Pod) *corev1.Pod { p.UID, p.ResourceVersion = "", ""; return p }
	g, err := NewGang([]*corev1.Pod{fresh(testPod(7, 0, 2, "")), fresh(testPod(7, 1, 2, ""))}, SecretRef{Name: "j7"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.AssumeNew(g, []string{"a", "b"}) {
		t.Fatal("AssumeNew refused a new gang")
	}
	for _, p := range []*corev1.Pod{testPod(7, 0, 2, ""), testPod(7, 1, 2, "b")} {
		if err := store.Add(p); err != nil {
			t.Fatal(err)
		}
		c.setPod(p)
	}
	if c.HasPending() {
		t.Fatal("the assumed head is pending before LeaveNew")
	}
	c.LeaveNew(g.Pods)
	snap, gangs, partial := c.Snapshot()
	if diff := cmp.Diff(map[string]int{"b": 1}, podsOnNodes(snap)); diff != "" {
		t.Errorf("pods on nodes (-want +got):\n%s", diff)
	}
	if !c.HasPending() || len(gangs) != 0 || len(partial) != 1 || len(partial[0].Bound) != 1 || len(partial[0].Rest.Pods) != 1 {
		t.Errorf("after LeaveNew: pending %v, gangs %+v, partial %+v; want the head pending beside its bound worker", c.HasPending(), gangs, partial)
	}
}
