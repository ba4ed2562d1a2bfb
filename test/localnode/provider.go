package localnode

import (
	"context"
	"io"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// provider is the virtual-kubelet provider of one node.
type provider struct {
	sh   *shared
	objs objects
	ctx  context.Context // the node process's; pods live as long as it

	mu     sync.Mutex
	pods   map[string]*podRun // by namespace/name
	notify func(*corev1.Pod)
}

func newProvider(ctx context.Context, sh *shared, objs objects) *provider {
	return &provider{sh: sh, objs: objs, ctx: ctx, pods: map[string]*podRun{}, notify: func(*corev1.Pod) {}}
}

func podKey(ns, name string) string { return ns + "/" + name }

// NotifyPods registers the pod controller's status callback.
func (p *provider) NotifyPods(_ context.Context, f func(*corev1.Pod)) {
	p.mu.Lock()
	p.notify = f
	p.mu.Unlock()
}

func (p *provider) callNotify(pod *corev1.Pod) {
	p.mu.Lock()
	f := p.notify
	p.mu.Unlock()
	f(pod)
}

// CreatePod starts running a pod (asynchronously: statuses follow through
// NotifyPods).
func (p *provider) CreatePod(_ context.Context, pod *corev1.Pod) error {
	k := podKey(pod.Namespace, pod.Name)
	p.mu.Lock()
	if old, ok := p.pods[k]; ok && old.pod.UID == pod.UID {
		p.mu.Unlock()
		return nil
	}
	r := newPodRun(p.sh, p.objs, pod, p.callNotify)
	p.pods[k] = r
	p.mu.Unlock()
	go r.run(p.ctx)
	return nil
}

// UpdatePod rewrites the pod's downward-API volumes, as a kubelet does on
// every sync of the pod, so a changed label or annotation reaches the
// running containers (each file replaced whole: a reader never sees it
// half written). Nothing else a pod may change (the deletion grace period)
// touches running processes.
func (p *provider) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	r := p.lookup(pod.Namespace, pod.Name)
	if r == nil || r.pod.UID != pod.UID {
		return nil
	}
	return r.refreshDownward(pod)
}

// DeletePod stops the pod's processes (SIGTERM, SIGKILL after its grace
// period), removes its namespace and files, and reports it terminated.
func (p *provider) DeletePod(_ context.Context, pod *corev1.Pod) error {
	k := podKey(pod.Namespace, pod.Name)
	p.mu.Lock()
	r, ok := p.pods[k]
	p.mu.Unlock()
	if !ok {
		return errdefs.NotFoundf("pod %s is not on this node", k)
	}
	grace := 30 * time.Second
	if s := pod.DeletionGracePeriodSeconds; s != nil {
		grace = time.Duration(*s) * time.Second
	} else if s := pod.Spec.TerminationGracePeriodSeconds; s != nil {
		grace = time.Duration(*s) * time.Second
	}
	go func() {
		r.kill(p.ctx, grace)
		p.mu.Lock()
		if p.pods[k] == r {
			delete(p.pods, k)
		}
		p.mu.Unlock()
		final := r.snapshot()
		if final.Status.Phase != corev1.PodSucceeded && final.Status.Phase != corev1.PodFailed {
			final.Status.Phase, final.Status.Reason = corev1.PodFailed, "Deleted"
		}
		for _, list := range [][]corev1.ContainerStatus{final.Status.InitContainerStatuses, final.Status.ContainerStatuses} {
			for i := range list {
				if list[i].State.Terminated == nil {
					list[i].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Killed"}}
				}
			}
		}
		p.callNotify(final)
	}()
	return nil
}

// GetPod returns a pod this node runs.
func (p *provider) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	r := p.lookup(ns, name)
	if r == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", ns, name)
	}
	return r.snapshot(), nil
}

// GetPodStatus returns the status of a pod this node runs.
func (p *provider) GetPodStatus(ctx context.Context, ns, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns the pods this node runs.
func (p *provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	runs := make([]*podRun, 0, len(p.pods))
	for _, r := range p.pods {
		runs = append(runs, r)
	}
	p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(runs))
	for _, r := range runs {
		out = append(out, r.snapshot())
	}
	return out, nil
}

func (p *provider) lookup(ns, name string) *podRun {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pods[podKey(ns, name)]
}

// shutdown stops every pod (grace for their SIGTERM) and removes them.
func (p *provider) shutdown(grace time.Duration) {
	p.mu.Lock()
	runs := make([]*podRun, 0, len(p.pods))
	for _, r := range p.pods {
		runs = append(runs, r)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Go(func() { r.kill(context.Background(), grace) })
	}
	wg.Wait()
}

// GetContainerLogs serves a container's output (see logs.go).
func (p *provider) GetContainerLogs(ctx context.Context, ns, name, container string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	r := p.lookup(ns, name)
	if r == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", ns, name)
	}
	return r.logs(ctx, container, opts)
}

// The rest of the kubelet API is not served by local nodes.

func (p *provider) RunInContainer(context.Context, string, string, string, []string, api.AttachIO) error {
	return errdefs.InvalidInput("exec is not served by local nodes")
}

func (p *provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return errdefs.InvalidInput("attach is not served by local nodes")
}

func (p *provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return nil, errdefs.InvalidInput("stats are not served by local nodes")
}

func (p *provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, errdefs.InvalidInput("metrics are not served by local nodes")
}

func (p *provider) PortForward(context.Context, string, string, int32, io.ReadWriteCloser) error {
	return errdefs.InvalidInput("port forwarding is not served by local nodes")
}
