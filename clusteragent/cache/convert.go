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
		Allocatable:   podgroup.Resources(n.Status.Allocatable),
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
