package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestJobNodeLost deletes the node under a running 4-node job, and then
// the node under a running 1-node job (whose every pod is then lost): each
// job ends COMPLETED_WITH_ERROR with a reason naming the node, and for 30 s
// after, the API server sees no pod of either created again.
func TestJobNodeLost(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := startRuntimeCluster(t, ctx, 6)
	c.run(t, ctx)
	core := c.env.Client.CoreV1()

	multi, single := rtJob(41, 4), rtJob(42, 1)
	c.ag.Jobs.AddInput(multi)
	c.ag.Jobs.AddInput(single)
	waitFor(t, time.Minute, "jobs 41 and 42 running", func() (bool, string) {
		st := c.ag.Jobs.States()
		return st[41] == structs.JobRunning && st[42] == structs.JobRunning, fmt.Sprint(st)
	})
	// From here on, every pod creation of either job is seen.
	sel := fmt.Sprintf("%s in (41,42)", podgroup.LabelJob)
	list, err := core.Pods(rtNS).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	w, err := core.Pods(rtNS).Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	nodeOf := func(pod string) string {
		for _, p := range list.Items {
			if p.Name == pod {
				return p.Spec.NodeName
			}
		}
		t.Fatalf("pod %s not found", pod)
		return ""
	}

	for _, tc := range []struct {
		number uint64
		pod    string
	}{{41, "j41-2"}, {42, "j42-0"}} {
		node := nodeOf(tc.pod)
		if err := core.Nodes().Delete(ctx, node, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		js := multi
		if tc.number == 42 {
			js = single
		}
		u := c.waitEnd(t, js, structs.JobCompletedWithError, 1)
		if !strings.Contains(u.Substatus, "node "+node) {
			t.Errorf("job %d ended %q: the reason does not name node %s", tc.number, u.Substatus, node)
		}
	}

	// 30 s with no pod of either job created.
	quiet := time.NewTimer(30 * time.Second)
	defer quiet.Stop()
	for done := false; !done; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("pod watch closed early")
			}
			if p, isPod := ev.Object.(*corev1.Pod); isPod && ev.Type == watch.Added {
				t.Errorf("pod %s of a lost job created again (uid %s)", p.Name, p.UID)
			}
		case <-quiet.C:
			done = true
		}
	}
	for _, name := range c.uids.recreated() {
		t.Errorf("pod %s recreated", name)
	}
	// Acknowledged, the jobs' objects go (the pods on the deleted nodes
	// once the pod garbage collector removes them).
	c.waitGone(ctx, t, 41)
	c.waitGone(ctx, t, 42)
}
