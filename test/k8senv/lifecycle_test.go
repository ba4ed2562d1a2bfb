package k8senv_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			SchedulerName: "flotilla-test",
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name:  "main",
				Image: "busybox",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("1"),
					corev1.ResourceMemory: resource.MustParse("1Gi"),
				}},
			}},
		},
	}
}

// TestControlPlaneLifecycle starts two control planes side by side and checks
// what every later suite relies on: simulated nodes go Ready, the binding
// subresource places pods, annotated pods succeed or fail with an exit code,
// and the garbage collector removes a pod whose owner is deleted.
func TestControlPlaneLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real control planes; run without -short (FLOTILLA_ tools from make tools)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	envs := k8senv.StartAll(t, k8senv.Options{Name: "east"}, k8senv.Options{Name: "west"})
	if envs[0].APIServerURL == envs[1].APIServerURL {
		t.Fatalf("both control planes on %s", envs[0].APIServerURL)
	}

	for _, env := range envs {
		t.Run(env.Name, func(t *testing.T) {
			checkCluster(ctx, t, env)
		})
	}
}

func checkCluster(ctx context.Context, t *testing.T, env *k8senv.Env) {
	specs := []k8senv.NodeSpec{
		{Name: env.Name + "-cpu-0", CPU: "32", Memory: "128Gi", Labels: map[string]string{"flotilla.io/class": "cpu"}},
		{Name: env.Name + "-cpu-1", CPU: "32", Memory: "128Gi", Labels: map[string]string{"flotilla.io/class": "cpu"}},
		{Name: env.Name + "-gpu-0", CPU: "64", Memory: "512Gi", GPUs: 8, Labels: map[string]string{"flotilla.io/class": "gpu"},
			Taints: []corev1.Taint{{Key: "flotilla.io/gpu", Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	if err := env.AddNodes(ctx, specs...); err != nil {
		t.Fatal(err)
	}
	nodes, err := env.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 3 {
		t.Fatalf("want 3 nodes, got %d", len(nodes.Items))
	}
	for _, n := range nodes.Items {
		if !k8senv.NodeReady(&n) {
			t.Errorf("node %s not Ready", n.Name)
		}
		if n.Name == env.Name+"-gpu-0" {
			if q := n.Status.Allocatable[k8senv.GPUResource]; q.Value() != 8 {
				t.Errorf("gpu node allocatable gpus = %s, want 8", q.String())
			}
		}
	}

	// A pod bound through pods/binding runs, then succeeds.
	ok := testPod("ok")
	k8senv.SucceedAfter(ok, 2*time.Second)
	createAndBind(ctx, t, env, ok, specs[0].Name)
	p, err := env.WaitPod(ctx, "default", "ok", k8senv.InPhase(corev1.PodRunning))
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != specs[0].Name || p.Status.PodIP == "" {
		t.Fatalf("running pod: node %q ip %q", p.Spec.NodeName, p.Status.PodIP)
	}
	p, err = env.WaitPod(ctx, "default", "ok", k8senv.InPhase(corev1.PodSucceeded))
	if err != nil {
		t.Fatal(err)
	}
	if code := exitCode(p); code != 0 {
		t.Errorf("succeeded pod exit code %d", code)
	}

	// A pod marked to fail ends Failed with exit code 1.
	bad := testPod("bad")
	k8senv.FailAfter(bad, time.Second, 1)
	createAndBind(ctx, t, env, bad, specs[1].Name)
	p, err = env.WaitPod(ctx, "default", "bad", k8senv.InPhase(corev1.PodFailed))
	if err != nil {
		t.Fatal(err)
	}
	if code := exitCode(p); code != 1 {
		t.Errorf("failed pod exit code %d, want 1", code)
	}

	// Garbage collection: a pod owned by a ConfigMap goes when the owner does.
	owner, err := env.Client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owned := testPod("owned")
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: types.UID(owner.UID)}}
	createAndBind(ctx, t, env, owned, specs[1].Name)
	if _, err := env.WaitPod(ctx, "default", "owned", k8senv.InPhase(corev1.PodRunning)); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.CoreV1().ConfigMaps("default").Delete(ctx, owner.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	gcCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := env.WaitGone(gcCtx, "default", "owned"); err != nil {
		t.Fatalf("owned pod not garbage-collected: %v", err)
	}
}

func createAndBind(ctx context.Context, t *testing.T, env *k8senv.Env, pod *corev1.Pod, node string) {
	t.Helper()
	if _, err := env.Client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	if err := env.Bind(ctx, pod.Namespace, pod.Name, node); err != nil {
		t.Fatalf("bind pod %s: %v", pod.Name, err)
	}
}

func exitCode(p *corev1.Pod) int32 {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Terminated != nil {
			return cs.State.Terminated.ExitCode
		}
	}
	panic(fmt.Sprintf("pod %s has no terminated container", p.Name))
}
