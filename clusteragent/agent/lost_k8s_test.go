package agent_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestJobNodeLost deletes the node under a running 4-node job, and then
// the node under a running 1-node job (whose every pod is then lost): each
// job ends COMPLETED_WITH_ERROR with a reason naming the node, and the API
// server sees no pod of either created again until the runner has let go
// of both (their objects gone, only tombstones left) and its grace for
// unseen pre-placed pods (PlacedGrace, short here) has run out since.
func TestJobNodeLost(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := startRuntimeCluster(t, ctx, 6)
	// Short, but far above how late the informers show a pod created
	// pre-placed on a loaded machine (longer would only make the end wait
	// longer: the pod garbage collector takes longer still).
	const grace = 10 * time.Second
	c.ag.Jobs.PlacedGrace = grace
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

	var deleted []string // the nodes deleted
	for _, tc := range []struct {
		number uint64
		pod    string
	}{{41, "j41-2"}, {42, "j42-0"}} {
		node := nodeOf(tc.pod)
		if err := core.Nodes().Delete(ctx, node, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		deleted = append(deleted, node)
		js := multi
		if tc.number == 42 {
			js = single
		}
		u := c.waitEnd(t, js, structs.JobCompletedWithError, 1)
		if !strings.Contains(u.Substatus, "node "+node) {
			t.Errorf("job %d ended %q: the reason does not name node %s", tc.number, u.Substatus, node)
		}
	}

	ended := time.Now()

	// No pod of either job created while the runner decides anything
	// about them: until it forgot both (it holds tombstones only, which
	// refuse a redelivery) and its grace ran out. Acknowledged, the jobs'
	// objects go, and then the runner forgets them. The pods the runner
	// deleted on the deleted nodes stay Terminating (no kubelet finishes
	// them) until the pod garbage collector removes them, 40-60 s after
	// their node went; the test removes them as it would, at once.
	gc := func() {
		list, err := core.Pods(rtNS).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil && slices.Contains(deleted, p.Spec.NodeName) {
				err := core.Pods(rtNS).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
				if err != nil && !apierrors.IsNotFound(err) {
					t.Fatal(err)
				}
			}
		}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("pod watch closed early")
			}
			if p, isPod := ev.Object.(*corev1.Pod); isPod && ev.Type == watch.Added {
				t.Errorf("pod %s of a lost job created again (uid %s)", p.Name, p.UID)
			}
		case <-tick.C:
			gc()
			jobs, _ := c.ag.Jobs.Tracked()
			left := len(c.objects(ctx, t, 41)) + len(c.objects(ctx, t, 42))
			done = jobs == 0 && left == 0 && time.Since(ended) >= grace
		case <-ctx.Done():
			jobs, tombs := c.ag.Jobs.Tracked()
			t.Fatalf("the runner never let go of the lost jobs: tracks %d jobs, %d tombstones; objects left: %v %v",
				jobs, tombs, names(c.objects(context.Background(), t, 41)), names(c.objects(context.Background(), t, 42)))
		}
	}
	for _, name := range c.uids.recreated() {
		t.Errorf("pod %s recreated", name)
	}
}
