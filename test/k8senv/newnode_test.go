package k8senv_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// TestPodsBoundToNewNodesRun: a pod bound to a node kwok has not seen yet
// runs once the node comes (an agent binds onto a node the moment its
// informer shows it, the pre-pull syncer makes a pull pod for a new node,
// a scaled-up node group takes pending pods). kwok skips a pod whose node
// it does not know and plays it only when it lists the new node's pods,
// which its configuration must enable (podsOnNodeSyncParallelism: a
// KwokConfiguration document gets no defaults).
//
// Half the pods are created bound before their node exists; a marker pod
// on a known node, created after them and run, shows kwok has handled
// their creation (it handles one watch stream in order) before the nodes
// are created. The other half are created right after their node.
func TestPodsBoundToNewNodesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane; run without -short (FLOTILLA_ tools from make tools)")
	}
	env := k8senv.Start(t, k8senv.Options{Name: "new-nodes", NoControllerManager: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	spec := func(name string) k8senv.NodeSpec { return k8senv.NodeSpec{Name: name, CPU: "8", Memory: "32Gi"} }
	if err := env.AddNodes(ctx, spec("known")); err != nil {
		t.Fatal(err)
	}
	createPod := func(name, node string) {
		t.Helper()
		pod := testPod(name)
		pod.Spec.NodeName = node
		if _, err := env.Client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod %s: %v", name, err)
		}
	}
	const n = 8
	for i := range n {
		createPod(fmt.Sprintf("before-%d", i), fmt.Sprintf("early-%d", i))
	}
	createPod("marker", "known")
	if _, err := env.WaitPod(ctx, "default", "marker", k8senv.InPhase(corev1.PodRunning)); err != nil {
		t.Fatalf("marker: %v", err)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := env.AddNodes(ctx, spec(fmt.Sprintf("early-%d", i))); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			node := fmt.Sprintf("late-%d", i)
			if _, err := env.Client.CoreV1().Nodes().Create(ctx, spec(node).Node(), metav1.CreateOptions{}); err != nil {
				t.Errorf("create node %s: %v", node, err)
				return
			}
			pod := testPod(fmt.Sprintf("after-%d", i))
			pod.Spec.NodeName = node
			if _, err := env.Client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Errorf("create pod %s: %v", pod.Name, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// A pod kwok lost stays Pending.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		pods, err := env.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		var pending []string
		if err == nil {
			for _, p := range pods.Items {
				if p.Status.Phase != corev1.PodRunning {
					pending = append(pending, p.Name+" on "+p.Spec.NodeName+": "+string(p.Status.Phase))
				}
			}
			if len(pods.Items) == 2*n+1 && len(pending) == 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pods not running: %v (list: %v)", pending, err)
		case <-tick.C:
		}
	}
}
