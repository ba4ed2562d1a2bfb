package install

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// TestHelmUpgradeRollsHubOneAtATime installs the chart at an older image
// version, then `helm upgrade`s it to a newer one in a real control plane
// (the StatefulSet controller of kube-controller-manager does the roll,
// kube-scheduler binds, kwok runs the pods) and watches the hub's pods:
// they are replaced one at a time, highest ordinal first, never more than
// one replica down, each replaced pod on the new image; the generated
// secrets and TLS material survive the upgrade (replicas with different
// secrets could not talk to each other).
func TestHelmUpgradeRollsHubOneAtATime(t *testing.T) {
	if testing.Short() {
		t.Skip("requires a real control plane and helm; skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env := k8senv.Start(t, k8senv.Options{Name: "upgrade", Scheduler: true})
	var specs []k8senv.NodeSpec
	for i := range 3 {
		specs = append(specs, k8senv.NodeSpec{Name: fmt.Sprintf("control-%d", i), CPU: "4", Memory: "16Gi",
			Labels: map[string]string{"topology.kubernetes.io/zone": fmt.Sprintf("zone-%d", i)}})
	}
	if err := env.AddNodes(ctx, specs...); err != nil {
		t.Fatal(err)
	}
	addStorage(ctx, t, env, 3, "10Gi")
	h := newHelm(t, env.Kubeconfig)
	values := func(tag string) string {
		return writeValues(t, "values-"+tag+".yaml", fmt.Sprintf(`
image:
  tag: %s
hub:
  persistence:
    storageClass: %s
`, tag, storageClass))
	}
	const oldTag, newTag = "v0.0.9", "v0.1.0"
	h.must(ctx, "install", release, chartDir(t), "--namespace", namespace, "--create-namespace", "-f", values(oldTag))

	sel := labels.SelectorFromSet(labels.Set{"app.kubernetes.io/instance": release, "app.kubernetes.io/component": "hub"}).String()
	pods := func() (map[string]*corev1.Pod, string) {
		list, err := env.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*corev1.Pod{}
		for i := range list.Items {
			out[list.Items[i].Name] = &list.Items[i]
		}
		return out, list.ResourceVersion
	}
	waitFor(ctx, t, "3 hub replicas ready on "+oldTag, func() (bool, string) {
		ps, _ := pods()
		ready := 0
		for _, p := range ps {
			if podReady(p) && strings.HasSuffix(p.Spec.Containers[0].Image, ":"+oldTag) {
				ready++
			}
		}
		return ready == 3, fmt.Sprintf("%d of 3 ready", ready)
	})
	secretData := func(name string) map[string][]byte {
		s, err := env.Client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s.Data
	}
	secretsBefore, tlsBefore := secretData(release+"-hub-secrets"), secretData(release+"-hub-tls")

	start, rv := pods()
	w, err := env.Client.CoreV1().Pods(namespace).Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: rv})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	h.must(ctx, "upgrade", release, chartDir(t), "--namespace", namespace, "-f", values(newTag))

	// Replay the pod events: at every step count the replicas that are
	// ready, and note the order in which old pods go.
	state := maps.Clone(start)
	minReady, replaced := 3, []string{}
	var trace []string
	upgraded := func() int {
		n := 0
		for _, p := range state {
			if podReady(p) && strings.HasSuffix(p.Spec.Containers[0].Image, ":"+newTag) {
				n++
			}
		}
		return n
	}
	for upgraded() < 3 {
		select {
		case <-ctx.Done():
			t.Fatalf("the upgrade did not finish: %d of 3 replicas ready on %s; replaced so far %v", upgraded(), newTag, replaced)
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("pod watch closed")
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				t.Fatalf("watch event %s: %T", ev.Type, ev.Object)
			}
			prev := state[p.Name]
			if ev.Type == watch.Deleted {
				delete(state, p.Name)
			} else {
				state[p.Name] = p
			}
			if prev != nil && prev.UID != p.UID || ev.Type == watch.Deleted || (prev != nil && prev.DeletionTimestamp == nil && p.DeletionTimestamp != nil) {
				if !containsName(replaced, p.Name) && prev != nil && strings.HasSuffix(prev.Spec.Containers[0].Image, ":"+oldTag) {
					replaced = append(replaced, p.Name)
				}
			}
			ready := 0
			for _, q := range state {
				if podReady(q) {
					ready++
				}
			}
			minReady = min(minReady, ready)
			trace = append(trace, fmt.Sprintf("%s %s uid=%s ready=%v deleting=%v image=%s -> %d ready",
				ev.Type, p.Name, p.UID[len(p.UID)-4:], podReady(p), p.DeletionTimestamp != nil,
				p.Spec.Containers[0].Image[strings.LastIndex(p.Spec.Containers[0].Image, ":")+1:], ready))
		}
	}
	t.Logf("replaced %v; at least %d of 3 replicas ready throughout", replaced, minReady)
	if minReady < 2 {
		t.Errorf("during the upgrade only %d replicas were ready at one point; the roll must take one at a time; pod events:\n%s", minReady, strings.Join(trace, "\n"))
	}
	want := []string{release + "-hub-2", release + "-hub-1", release + "-hub-0"}
	if strings.Join(replaced, ",") != strings.Join(want, ",") {
		t.Errorf("replicas replaced in the order %v; want %v (one at a time, highest ordinal first)", replaced, want)
	}
	for name, d := range map[string][2]map[string][]byte{
		"secrets": {secretsBefore, secretData(release + "-hub-secrets")},
		"TLS":     {tlsBefore, secretData(release + "-hub-tls")},
	} {
		if !maps.EqualFunc(d[0], d[1], func(a, b []byte) bool { return string(a) == string(b) }) {
			t.Errorf("the upgrade changed the hub's generated %s", name)
		}
	}
	if hist := h.must(ctx, "history", release, "--namespace", namespace); !strings.Contains(hist, "deployed") || strings.Count(hist, "\n") < 3 {
		t.Errorf("helm history after the upgrade:\n%s", hist)
	}
}

func containsName(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}
