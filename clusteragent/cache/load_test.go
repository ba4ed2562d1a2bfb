package cache

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
)

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// perPod is the snapshot's pods as they were before the loads: one entry
// per bound or assumed pod.
func perPod(c *Cache) []scheduler.Pod {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []scheduler.Pod
	for _, p := range c.bound {
		out = append(out, scheduler.Pod{Node: p.node, Requests: p.req, Tenant: p.tenant})
	}
	for _, a := range c.assumed {
		out = append(out, scheduler.Pod{Node: a.node, Requests: a.req, Tenant: a.tenant})
	}
	return out
}

// TestLoadsMatchPods: after random binds, confirmations, pre-placed
// creates, failed binds, finished and deleted pods, the per-node loads
// a snapshot carries sum exactly the pods bound and assumed, and a
// scheduling pass decides the same on them as on the pods one by one; so
// does a placement state kept between passes and caught up with the
// cache's changes (PlaceView), through node changes too.
func TestLoadsMatchPods(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 5))
	c := New(nil, Options{})
	nodes := []string{"a", "b", "c", "d"}
	for _, n := range nodes {
		c.setNode(testNode(n))
	}
	var st *scheduler.State
	var stGen uint64
	pod := func(n uint64, node string) *corev1.Pod {
		p := testPod(n, 0, 1, node)
		p.Annotations[podgroup.AnnotTenant] = []string{"t1", "t2", ""}[n%3]
		req := corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(int64(100+n%7*250), resource.DecimalSI)}
		if n%5 == 0 {
			req["example.com/fpga"] = *resource.NewQuantity(int64(n%3+1), resource.DecimalSI)
		}
		p.Spec.Containers = []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: req}}}
		return p
	}
	for step := range 3000 {
		n := uint64(rng.IntN(60) + 1)
		node := nodes[rng.IntN(len(nodes))]
		switch rng.IntN(7) {
		case 0: // created pending, then maybe assumed
			c.setPod(pod(n, ""))
			if _, gangs, _ := c.Snapshot(); len(gangs) > 0 && rng.IntN(2) == 0 {
				g := gangs[rng.IntN(len(gangs))]
				c.Assume(g.Pods, []string{node})
			}
		case 1: // shown bound (where assumed or not)
			c.setPod(pod(n, node))
		case 2: // a failed bind
			c.Forget([]PodRef{{Namespace: "jobs", Name: podgroup.PodName(n, 0)}})
		case 3: // a pre-placed create, maybe rolled back
			p := pod(n, "")
			p.UID = ""
			if g, err := NewGang([]*corev1.Pod{p}, SecretRef{}); err == nil && c.AssumeNew(g, []string{node}) && rng.IntN(2) == 0 {
				c.ForgetNew(g.Pods)
			}
		case 4: // finished
			p := pod(n, node)
			p.Status.Phase = corev1.PodSucceeded
			c.setPod(p)
		case 5:
			c.deletePod(pod(n, node))
		case 6:
			c.deletePod(pod(n, ""))
		}
		if step%250 == 0 { // a node changes: the state is built again
			nd := testNode(nodes[rng.IntN(len(nodes))])
			nd.Status.Allocatable[corev1.ResourceCPU] = *resource.NewQuantity(int64(2+rng.IntN(6)), resource.DecimalSI)
			c.setNode(nd)
		}
		if step%7 == 0 { // the state catches up now and then, not at every change
			ch, _, _ := c.PlaceView(stGen, st != nil)
			if ch.Full {
				st, stGen = scheduler.NewState(ch.Nodes, scheduler.Options{}), ch.Gen
			}
			for node, pods := range ch.Loads {
				st.SetLoads(node, pods)
			}
		}
		if step%100 != 99 {
			continue
		}
		snap, _, _ := c.Snapshot()
		sum := map[loadKey]scheduler.Resources{}
		for _, p := range perPod(c) {
			r := sum[loadKey{p.Node, p.Tenant}]
			r.Add(podLoad(placed{req: p.Requests}))
			sum[loadKey{p.Node, p.Tenant}] = r
		}
		got := map[loadKey]scheduler.Resources{}
		for _, p := range snap.Pods {
			got[loadKey{p.Node, p.Tenant}] = p.Requests
		}
		if diff := cmp.Diff(sum, got, cmp.AllowUnexported(loadKey{})); diff != "" {
			t.Fatalf("step %d: loads differ from the pods (-pods +loads):\n%s", step, diff)
		}
		gangs := []scheduler.Gang{}
		for i := range 6 {
			gangs = append(gangs, scheduler.Gang{ID: fmt.Sprint("g", i), Tenant: []string{"t1", "t2"}[i%2],
				Pods: []scheduler.PodSpec{{Requests: scheduler.Resources{MilliCPU: int64(500 + 700*i)}}}})
		}
		opts := scheduler.Options{TenantIsolation: step%200 == 99}
		one := scheduler.Schedule(scheduler.Snapshot{Nodes: snap.Nodes, Pods: perPod(c)}, gangs, opts, testNow)
		agg := scheduler.Schedule(snap, gangs, opts, testNow)
		if diff := cmp.Diff(one, agg); diff != "" {
			t.Fatalf("step %d: a pass decides otherwise on the loads (-pods +loads):\n%s", step, diff)
		}
		ch, _, _ := c.PlaceView(stGen, st != nil)
		if ch.Full {
			st, stGen = scheduler.NewState(ch.Nodes, scheduler.Options{}), ch.Gen
		}
		for node, pods := range ch.Loads {
			st.SetLoads(node, pods)
		}
		if diff := cmp.Diff(one, st.Schedule(gangs, opts, testNow)); diff != "" {
			t.Fatalf("step %d: the kept state decides otherwise (-pods +state):\n%s", step, diff)
		}
	}
}
