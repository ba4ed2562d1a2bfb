package podgroup

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
)

// Resources converts a ResourceList into the scheduler's units: CPU in
// milli-cores, everything else in its base unit (bytes, counts).
func Resources(rl corev1.ResourceList) scheduler.Resources {
	var r scheduler.Resources
	for name, q := range rl {
		if name == corev1.ResourceCPU {
			r.Set(scheduler.ResourceCPU, q.MilliValue())
			continue
		}
		r.Set(string(name), q.Value())
	}
	return r
}

// PodRequests is what a pod occupies on its node: the sum of its
// containers' requests, at least the largest init container's, plus
// overhead, plus one pod.
func PodRequests(p *corev1.Pod) scheduler.Resources {
	var sum scheduler.Resources
	for i := range p.Spec.Containers {
		sum.Add(Resources(p.Spec.Containers[i].Resources.Requests))
	}
	for i := range p.Spec.InitContainers {
		ic := Resources(p.Spec.InitContainers[i].Resources.Requests)
		for _, name := range []string{scheduler.ResourceCPU, scheduler.ResourceMemory, scheduler.ResourceGPU, scheduler.ResourceEphemeralStorage} {
			if v := ic.Get(name); v > sum.Get(name) {
				sum.Set(name, v)
			}
		}
	}
	if p.Spec.Overhead != nil {
		sum.Add(Resources(p.Spec.Overhead))
	}
	sum.Set(scheduler.ResourcePods, 1)
	return sum
}

// SchedulerPod is a pod as level 2 schedules it: its requests, node
// selector and tolerations.
func SchedulerPod(p *corev1.Pod) scheduler.PodSpec {
	ps := scheduler.PodSpec{Requests: PodRequests(p), NodeSelector: p.Spec.NodeSelector}
	for _, t := range p.Spec.Tolerations {
		ps.Tolerations = append(ps.Tolerations, scheduler.Toleration{
			Key: t.Key, Operator: scheduler.TolerationOperator(t.Operator), Value: t.Value, Effect: scheduler.TaintEffect(t.Effect),
		})
	}
	return ps
}
