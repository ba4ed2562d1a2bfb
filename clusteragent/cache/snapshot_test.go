package cache

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
)

func testNode(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourcePods: resource.MustParse("110")},
		Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
	}}
}

// testPod is rank of job n (size pods), bound to node unless it is "".
func testPod(n uint64, rank, size int, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "jobs", Name: podgroup.PodName(n, rank), UID: types.UID(fmt.Sprintf("uid-%d-%d", n, rank)), ResourceVersion: "1",
			Labels:      map[string]string{podgroup.LabelJob: fmt.Sprint(n), podgroup.LabelRank: fmt.Sprint(rank)},
			Annotations: map[string]string{podgroup.AnnotGangSize: fmt.Sprint(size)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Secret", Name: podgroup.JobName(n),
				UID: types.UID(fmt.Sprintf("secret-%d", n))}},
		},
		Spec: corev1.PodSpec{SchedulerName: podgroup.SchedulerName, NodeName: node},
	}
}

func noOwner(p *corev1.Pod) *corev1.Pod { p.OwnerReferences = nil; return p }

type gangSummary struct {
	ID          string
	Pending     []string
	Bound       []string
	Occupied    []string
	Completable bool
	Secret      SecretRef
}

func summarize(gangs []PendingGang, partial []PartialGang) []gangSummary {
	var out []gangSummary
	for _, g := range gangs {
		s := gangSummary{ID: g.Gang.ID, Secret: g.Secret, Completable: true}
		for _, p := range g.Pods {
			s.Pending = append(s.Pending, p.Name)
		}
		out = append(out, s)
	}
	for _, p := range partial {
		s := gangSummary{ID: p.Rest.Gang.ID, Secret: p.Rest.Secret, Occupied: p.Rest.Gang.Occupied, Completable: p.Completable}
		for _, r := range p.Rest.Pods {
			s.Pending = append(s.Pending, r.Name)
		}
		for _, r := range p.Bound {
			s.Bound = append(s.Bound, r.Name)
		}
		out = append(out, s)
	}
	return out
}

// TestSnapshotGangs: new gangs, partly bound gangs whose head is unbound
// (completable or not), and the gangs level 2 must leave alone.
func TestSnapshotGangs(t *testing.T) {
	c := New(nil, Options{Namespaces: []string{"jobs"}})
	for _, n := range []string{"a", "b", "c", "d"} {
		c.setNode(testNode(n))
	}
	sec := func(n uint64) SecretRef {
		return SecretRef{Name: podgroup.JobName(n), UID: types.UID(fmt.Sprintf("secret-%d", n))}
	}
	pods := []*corev1.Pod{
		// 1: new, whole.
		testPod(1, 0, 2, ""), testPod(1, 1, 2, ""),
		// 2: still being created (rank 1 of 3 missing).
		testPod(2, 0, 3, ""), testPod(2, 2, 3, ""),
		// 3: workers bound, head unbound: completable.
		testPod(3, 0, 3, ""), testPod(3, 1, 3, "a"), testPod(3, 2, 3, "b"),
		// 4: head bound, a worker unbound: its head may have run.
		testPod(4, 0, 2, "c"), testPod(4, 1, 2, ""),
		// 5: a worker bound on a node that is gone.
		testPod(5, 0, 2, ""), testPod(5, 1, 2, "gone"),
		// 6: a worker bound, another rank missing: level 1 creates it.
		testPod(6, 0, 3, ""), testPod(6, 1, 3, "d"),
		// 7: another tool's gang (no Secret), a worker bound, a rank missing.
		noOwner(testPod(7, 0, 3, "")), noOwner(testPod(7, 1, 3, "d")),
	}
	for _, p := range pods {
		c.setPod(p)
	}
	_, gangs, partial := c.Snapshot()
	want := []gangSummary{
		{ID: "jobs/1", Pending: []string{"j1-0", "j1-1"}, Completable: true, Secret: sec(1)},
		{ID: "jobs/3", Pending: []string{"j3-0"}, Bound: []string{"j3-1", "j3-2"}, Occupied: []string{"a", "b"}, Completable: true, Secret: sec(3)},
		{ID: "jobs/5", Pending: []string{"j5-0"}, Bound: []string{"j5-1"}, Occupied: []string{"gone"}, Secret: sec(5)},
		{ID: "jobs/7", Pending: []string{"j7-0"}, Bound: []string{"j7-1"}, Occupied: []string{"d"}},
	}
	if d := cmp.Diff(want, summarize(gangs, partial)); d != "" {
		t.Errorf("snapshot (-want +got):\n%s", d)
	}
	if got := partial[0].Rest.Pods[0]; got.UID != "uid-3-0" || got.ResourceVersion != "1" || got.Rank != 0 {
		t.Errorf("head ref %+v: the binder's preconditions need uid, resource version and rank", got)
	}

	// A bind in flight: neither new nor partial. A failed one: pending again.
	c.Assume(gangs[0].Pods, []string{"a", "b"})
	if _, gangs, _ := c.Snapshot(); len(gangs) != 0 {
		t.Errorf("gang with a bind in flight offered again: %+v", gangs)
	}
	c.Forget(gangs[0].Pods)
	if _, gangs, _ := c.Snapshot(); len(gangs) != 1 || gangs[0].Gang.ID != "jobs/1" {
		t.Errorf("after Forget, gangs %+v; want jobs/1 pending again", gangs)
	}
	if !c.NodeExists("a") || c.NodeExists("gone") {
		t.Errorf("NodeExists wrong")
	}
}
