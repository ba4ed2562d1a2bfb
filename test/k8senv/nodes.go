package k8senv

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations that drive a simulated pod's end (kwok stages in kwok-stages.yaml).
const (
	// AnnotationSucceedAfter: a Go duration after which the running pod exits 0.
	AnnotationSucceedAfter = "sim.flotilla.io/succeed-after"
	// AnnotationFailAfter: a Go duration after which the running pod fails.
	AnnotationFailAfter = "sim.flotilla.io/fail-after"
	// AnnotationExitCode: the exit code of a failing pod (default 1).
	AnnotationExitCode = "sim.flotilla.io/exit-code"
	// LabelSimulated marks nodes created by this package.
	LabelSimulated = "sim.flotilla.io/node"
)

// The annotation that makes kwok manage a node (kwok runs with
// --manage-nodes-with-annotation-selector on it).
const (
	kwokNodeAnnotation = "kwok.x-k8s.io/node"
	kwokNodeValue      = "fake"
)

// GPUResource is the extended resource name of NVIDIA GPUs.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// NodeSpec describes one simulated node.
type NodeSpec struct {
	Name   string
	CPU    string // e.g. "32"
	Memory string // e.g. "128Gi"
	Pods   int    // default 110
	GPUs   int
	Labels map[string]string
	Taints []corev1.Taint
}

// Node returns the Node object for the spec.
func (s NodeSpec) Node() *corev1.Node {
	pods := s.Pods
	if pods == 0 {
		pods = 110
	}
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(s.CPU),
		corev1.ResourceMemory: resource.MustParse(s.Memory),
		corev1.ResourcePods:   *resource.NewQuantity(int64(pods), resource.DecimalSI),
	}
	if s.GPUs > 0 {
		res[GPUResource] = *resource.NewQuantity(int64(s.GPUs), resource.DecimalSI)
	}
	labels := map[string]string{
		"kubernetes.io/hostname": s.Name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     "amd64",
		"type":                   "kwok",
		LabelSimulated:           "true",
	}
	for k, v := range s.Labels {
		labels[k] = v
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        s.Name,
			Labels:      labels,
			Annotations: map[string]string{kwokNodeAnnotation: kwokNodeValue},
		},
		Spec:   corev1.NodeSpec{Taints: s.Taints},
		Status: corev1.NodeStatus{Capacity: res, Allocatable: res.DeepCopy()},
	}
}

// AddNodes creates the nodes (in parallel) and waits until every one is Ready.
func (e *Env) AddNodes(ctx context.Context, specs ...NodeSpec) error {
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	errs := make(chan error, len(specs))
	for _, s := range specs {
		wg.Add(1)
		sem <- struct{}{}
		go func(s NodeSpec) {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := e.Client.CoreV1().Nodes().Create(ctx, s.Node(), metav1.CreateOptions{}); err != nil {
				errs <- fmt.Errorf("create node %s: %w", s.Name, err)
			}
		}(s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	want := map[string]bool{}
	for _, s := range specs {
		want[s.Name] = true
	}
	return poll(ctx, 200*time.Millisecond, func() (bool, error) {
		list, err := e.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: LabelSimulated + "=true"})
		if err != nil {
			return false, nil
		}
		ready := 0
		for i := range list.Items {
			if want[list.Items[i].Name] && NodeReady(&list.Items[i]) {
				ready++
			}
		}
		return ready == len(want), e.checkAlive()
	})
}

// NodeReady reports whether the node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// SucceedAfter marks a pod (before creation) to exit 0 after d once running.
func SucceedAfter(pod *corev1.Pod, d time.Duration) {
	annotate(pod, AnnotationSucceedAfter, d.String())
}

// FailAfter marks a pod (before creation) to fail with code after d once running.
func FailAfter(pod *corev1.Pod, d time.Duration, code int) {
	annotate(pod, AnnotationFailAfter, d.String())
	annotate(pod, AnnotationExitCode, strconv.Itoa(code))
}

func annotate(pod *corev1.Pod, k, v string) {
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[k] = v
}

// Bind binds a pod to a node through the pods/binding subresource, as a
// scheduler does.
func (e *Env) Bind(ctx context.Context, namespace, pod, node string) error {
	return e.Client.CoreV1().Pods(namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: namespace},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
}

// WaitPod waits until cond holds for the pod (which must exist) or ctx ends.
func (e *Env) WaitPod(ctx context.Context, namespace, name string, cond func(*corev1.Pod) bool) (*corev1.Pod, error) {
	var last *corev1.Pod
	err := poll(ctx, 100*time.Millisecond, func() (bool, error) {
		p, err := e.Client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return cond(p), nil
	})
	if err != nil && last != nil {
		return last, fmt.Errorf("pod %s/%s in phase %s: %w", namespace, name, last.Status.Phase, err)
	}
	return last, err
}

// WaitGone waits until the pod no longer exists.
func (e *Env) WaitGone(ctx context.Context, namespace, name string) error {
	return poll(ctx, 100*time.Millisecond, func() (bool, error) {
		_, err := e.Client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

// InPhase returns a condition for WaitPod.
func InPhase(phase corev1.PodPhase) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool { return p.Status.Phase == phase }
}
