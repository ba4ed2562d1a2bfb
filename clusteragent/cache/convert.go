package cache

import (
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
)

// nodeOf converts a Node into the scheduler's view.
func nodeOf(n *corev1.Node) scheduler.Node {
	out := scheduler.Node{
		Name:          n.Name,
		Allocatable:   resourcesOf(n.Status.Allocatable),
		Labels:        n.Labels,
		Unschedulable: n.Spec.Unschedulable || !ready(n),
	}
	for _, t := range n.Spec.Taints {
		out.Taints = append(out.Taints, scheduler.Taint{Key: t.Key, Value: t.Value, Effect: scheduler.TaintEffect(t.Effect)})
	}
	return out
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// resourcesOf converts a ResourceList: CPU in milli-cores, everything else in
// its base unit (bytes, counts).
func resourcesOf(rl corev1.ResourceList) scheduler.Resources {
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

// podRequests is what a pod occupies on its node: the sum of its containers'
// requests, at least the largest init container's, plus overhead, plus one pod.
func podRequests(p *corev1.Pod) scheduler.Resources {
	var sum scheduler.Resources
	for i := range p.Spec.Containers {
		sum.Add(resourcesOf(p.Spec.Containers[i].Resources.Requests))
	}
	for i := range p.Spec.InitContainers {
		ic := resourcesOf(p.Spec.InitContainers[i].Resources.Requests)
		for _, name := range []string{scheduler.ResourceCPU, scheduler.ResourceMemory, scheduler.ResourceGPU, scheduler.ResourceEphemeralStorage} {
			if v := ic.Get(name); v > sum.Get(name) {
				sum.Set(name, v)
			}
		}
	}
	if p.Spec.Overhead != nil {
		sum.Add(resourcesOf(p.Spec.Overhead))
	}
	sum.Set(scheduler.ResourcePods, 1)
	return sum
}

// podSpecOf converts a pending pod into a gang member.
func podSpecOf(p *corev1.Pod) scheduler.PodSpec {
	ps := scheduler.PodSpec{Requests: podRequests(p), NodeSelector: p.Spec.NodeSelector}
	for _, t := range p.Spec.Tolerations {
		ps.Tolerations = append(ps.Tolerations, scheduler.Toleration{
			Key: t.Key, Operator: scheduler.TolerationOperator(t.Operator), Value: t.Value, Effect: scheduler.TaintEffect(t.Effect),
		})
	}
	return ps
}

// gangMeta reads the gang fields level 1 wrote on a pod.
type gangMeta struct {
	jobID    string
	tenant   string
	size     int
	priority int
	created  time.Time
	rank     int
}

func gangMetaOf(p *corev1.Pod) (gangMeta, bool) {
	m := gangMeta{jobID: p.Labels[podgroup.LabelJob], tenant: p.Annotations[podgroup.AnnotTenant]}
	if gangOf(p) == (GangID{}) {
		return m, false // no job number: not a gang
	}
	var err error
	if m.size, err = strconv.Atoi(p.Annotations[podgroup.AnnotGangSize]); err != nil || m.size < 1 {
		return m, false
	}
	if m.rank, err = strconv.Atoi(p.Labels[podgroup.LabelRank]); err != nil || m.rank < 0 || m.rank >= m.size {
		return m, false
	}
	m.priority, _ = strconv.Atoi(p.Annotations[podgroup.AnnotPriority])
	if t, err := time.Parse(time.RFC3339Nano, p.Annotations[podgroup.AnnotSubmitted]); err == nil {
		m.created = t
	} else {
		m.created = p.CreationTimestamp.Time
	}
	return m, true
}
