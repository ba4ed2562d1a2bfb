package localnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var errStart = errors.New("container did not start")

// shared is what the pods of all nodes in the process share.
type shared struct {
	net    *Network
	state  *State
	hosts  *hostsTable
	self   string            // this binary, re-executed as container-init
	images map[string]string // image → directory layered over the host root
	sizes  Sizes
	now    func() time.Time
	log    *slog.Logger
}

// Sizes bound the memory a pod's files take.
type Sizes struct {
	Scratch int64 // each container's writable root layer (tmpfs)
	Shm     int64 // each container's /dev/shm
}

// podRun is one pod on a node: its files, network and containers.
type podRun struct {
	sh     *shared
	objs   objects
	pod    *corev1.Pod // spec as created; status is kept in status
	dir    string
	notify func(*corev1.Pod)

	mu      sync.Mutex
	status  corev1.PodStatus
	net     *PodNet
	running map[string]*started // containers running now, by name
	stopped bool                // deletion began: start nothing more

	stop chan struct{} // closed when deletion begins
	done chan struct{} // closed when the lifecycle goroutine returns
}

func newPodRun(sh *shared, objs objects, pod *corev1.Pod, notify func(*corev1.Pod)) *podRun {
	return &podRun{
		sh: sh, objs: objs, pod: pod.DeepCopy(), notify: notify,
		dir:     filepath.Join(sh.state.PodsDir(), string(pod.UID)),
		running: map[string]*started{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// wasStarted reports whether the API shows the pod already ran (on a node
// process that has since died): it is then failed, never run again.
func wasStarted(p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodRunning {
		return true
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if cs.State.Running != nil || cs.State.Terminated != nil {
			return true
		}
	}
	return false
}

// snapshot returns the pod with its current status.
func (r *podRun) snapshot() *corev1.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pod.DeepCopy()
	p.Status = *r.status.DeepCopy()
	return p
}

// update changes the status under the lock and tells the pod controller.
func (r *podRun) update(f func(s *corev1.PodStatus)) {
	r.mu.Lock()
	f(&r.status)
	r.mu.Unlock()
	r.notify(r.snapshot())
}

// run is the pod's life: files, network, init containers, containers.
func (r *podRun) run(ctx context.Context) {
	defer close(r.done)
	now := metav1.NewTime(r.sh.now())
	r.update(func(s *corev1.PodStatus) {
		*s = corev1.PodStatus{
			Phase: corev1.PodPending, StartTime: &now, HostIP: "127.0.0.1",
			HostIPs:    []corev1.HostIP{{IP: "127.0.0.1"}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now}},
		}
		s.InitContainerStatuses = waiting(r.pod.Spec.InitContainers, "PodInitializing")
		s.ContainerStatuses = waiting(r.pod.Spec.Containers, "ContainerCreating")
	})
	if wasStarted(r.pod) {
		r.fail("NodeRestarted", "the local node process that ran this pod stopped; its processes are gone and are not restarted")
		return
	}
	if r.pod.Spec.RestartPolicy != "" && r.pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		r.sh.log.Warn("restartPolicy not served: containers are not restarted", "pod", r.key(), "policy", r.pod.Spec.RestartPolicy)
	}
	paths, err := r.setUp(ctx)
	if err != nil {
		if !r.isStopped() {
			r.fail("CreateContainerConfigError", err.Error())
		}
		return
	}
	for i := range r.pod.Spec.InitContainers {
		c := &r.pod.Spec.InitContainers[i]
		code, err := r.runContainer(ctx, c, paths, func(s *corev1.PodStatus) []corev1.ContainerStatus { return s.InitContainerStatuses })
		if err != nil || code != 0 {
			r.finish()
			return
		}
	}
	var wg sync.WaitGroup
	for i := range r.pod.Spec.Containers {
		c := &r.pod.Spec.Containers[i]
		wg.Go(func() {
			r.runContainer(ctx, c, paths, func(s *corev1.PodStatus) []corev1.ContainerStatus { return s.ContainerStatuses })
		})
	}
	wg.Wait()
	r.finish()
}

func (r *podRun) key() string { return r.pod.Namespace + "/" + r.pod.Name }

func (r *podRun) isStopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// setUp writes the volumes (retrying until the Secrets and ConfigMaps they
// name are seen) and makes the network namespace.
func (r *podRun) setUp(ctx context.Context) (volumePaths, error) {
	for _, d := range []string{"volumes", "logs", "containers"} {
		if err := os.MkdirAll(filepath.Join(r.dir, d), 0o711); err != nil {
			return nil, err
		}
	}
	var paths volumePaths
	wait := 100 * time.Millisecond
	for {
		var err error
		paths, err = materialize(r.pod, filepath.Join(r.dir, "volumes"), r.objs)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNotYet) {
			return nil, err
		}
		r.sh.log.Debug("pod volumes not ready", "pod", r.key(), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-r.stop:
			t.Stop()
			return nil, err
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return nil, errors.New("pod deleted")
	}
	pn, err := r.sh.net.AddPod(ctx, r.sh.state.RecordNS)
	if err == nil {
		r.net = pn
	}
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	ip := pn.Addr.String()
	r.update(func(s *corev1.PodStatus) {
		s.PodIP, s.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	})
	hostname := r.pod.Spec.Hostname
	if hostname == "" {
		hostname = r.pod.Name
	}
	err = r.sh.hosts.set(string(r.pod.UID), hostEntry{
		namespace: r.pod.Namespace, subdomain: r.pod.Spec.Subdomain, hostname: hostname, ip: ip,
		file: filepath.Join(r.dir, "hosts"),
	})
	return paths, err
}

// fail ends the pod Failed with reason and message, its containers not run.
func (r *podRun) fail(reason, msg string) {
	r.sh.log.Warn("pod failed", "pod", r.key(), "reason", reason, "message", msg)
	r.update(func(s *corev1.PodStatus) {
		s.Phase, s.Reason, s.Message = corev1.PodFailed, reason, msg
		term := &corev1.ContainerStateTerminated{ExitCode: 1, Reason: reason, Message: msg}
		for _, list := range [][]corev1.ContainerStatus{s.InitContainerStatuses, s.ContainerStatuses} {
			for i := range list {
				if list[i].State.Terminated == nil {
					list[i].State = corev1.ContainerState{Terminated: term.DeepCopy()}
				}
			}
		}
	})
}

// finish sets the phase from the containers' ends: Succeeded when every
// container exited 0, else Failed.
func (r *podRun) finish() {
	r.update(func(s *corev1.PodStatus) {
		ok := true
		for _, list := range [][]corev1.ContainerStatus{s.InitContainerStatuses, s.ContainerStatuses} {
			for _, cs := range list {
				if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
					ok = false
				}
			}
		}
		s.Phase = corev1.PodFailed
		if ok {
			s.Phase = corev1.PodSucceeded
		}
		setCondition(s, corev1.PodReady, corev1.ConditionFalse, r.sh.now())
		setCondition(s, corev1.ContainersReady, corev1.ConditionFalse, r.sh.now())
	})
}

// kill stops the pod for deletion: SIGTERM to its containers, SIGKILL after
// grace, then it removes the network namespace, hosts entry and files.
func (r *podRun) kill(ctx context.Context, grace time.Duration) {
	r.mu.Lock()
	first := !r.stopped
	r.stopped = true
	procs := make([]*started, 0, len(r.running))
	for _, s := range r.running {
		procs = append(procs, s)
	}
	r.mu.Unlock()
	if !first {
		<-r.done
		return
	}
	close(r.stop)
	for _, s := range procs {
		syscall.Kill(s.pid, syscall.SIGTERM) // container-init forwards it to the command
	}
	t := time.NewTimer(grace)
	select {
	case <-r.done:
	case <-t.C:
		r.mu.Lock()
		for _, s := range r.running {
			syscall.Kill(s.pid, syscall.SIGKILL) // and with it its PID namespace
		}
		r.mu.Unlock()
		<-r.done
	}
	t.Stop()
	r.release(ctx)
}

// release removes what the pod holds on the node.
func (r *podRun) release(ctx context.Context) {
	if err := r.sh.hosts.remove(string(r.pod.UID)); err != nil {
		r.sh.log.Debug("hosts files", "err", err)
	}
	r.mu.Lock()
	pn := r.net
	r.net = nil
	r.mu.Unlock()
	if pn != nil {
		if err := r.sh.net.DeletePod(ctx, pn); err != nil {
			r.sh.log.Error("delete pod network", "pod", r.key(), "err", err)
		} else {
			r.sh.state.ForgetNS(pn.NS)
		}
	}
	if err := os.RemoveAll(r.dir); err != nil {
		r.sh.log.Error("remove pod files", "pod", r.key(), "err", err)
	}
}

func waiting(cs []corev1.Container, reason string) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, 0, len(cs))
	for _, c := range cs {
		out = append(out, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "host://" + c.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}},
		})
	}
	return out
}

func setCondition(s *corev1.PodStatus, t corev1.PodConditionType, v corev1.ConditionStatus, now time.Time) {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			if s.Conditions[i].Status != v {
				s.Conditions[i].Status, s.Conditions[i].LastTransitionTime = v, metav1.NewTime(now)
			}
			return
		}
	}
	s.Conditions = append(s.Conditions, corev1.PodCondition{Type: t, Status: v, LastTransitionTime: metav1.NewTime(now)})
}

// describe is a short text for errors about a container.
func describe(c *corev1.Container) string { return fmt.Sprintf("container %q", c.Name) }
