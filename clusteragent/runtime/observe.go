package runtime

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
)

// observation is what the cluster says about one job: its Secret and its
// pods, condensed for decide.
type observation struct {
	secret secretObs
	pods   podsObs
}

// secretObs is the job Secret as seen.
type secretObs struct {
	exists   bool
	deleting bool
	// started is the head pod UID of the start record (podgroup.AnnotStarted).
	started string
	// final is the recorded final state (podgroup.AnnotFinal).
	final *Final
}

// podsObs condenses the job's pods.
type podsObs struct {
	total   int // every pod seen, those being deleted too
	present int // pods not being deleted
	bound   int // present and bound
	running int // present and running
	head    headObs
	// workerFailed names a worker pod that failed (not by eviction);
	// workersDone counts worker pods that exited 0 (an array job's
	// workers leave when nothing is left for them).
	workerFailed string
	workerExit   int // its exit status
	workersDone  int
	// workersGone counts worker pods failed or lost (an array job's
	// dispatcher grants their tasks to the others).
	workersGone int
	// lost says, per pod gone or going without the job's doing, why,
	// naming the pod and its node: deleted, evicted, or its node deleted.
	lost []string
	// start is the earliest pod start, zero if none started.
	start time.Time
}

// headObs is rank 0.
type headObs struct {
	exists   bool // present or being deleted
	lost     bool // lost to the job (see lossOf)
	bound    bool // has a node, even while being deleted
	done     bool // succeeded or failed (not by eviction)
	phase    corev1.PodPhase
	exit     int
	deadline bool // stopped by its active deadline: the walltime
}

// observe condenses a job's Secret (nil when there is none) and pods;
// nodeExists says whether a node is still in the cluster. Pure.
func observe(secret *corev1.Secret, pods []*corev1.Pod, nodeExists func(string) bool) observation {
	var o observation
	if secret != nil {
		o.secret = secretObs{exists: true, deleting: secret.DeletionTimestamp != nil,
			started: secret.Annotations[podgroup.AnnotStarted]}
		if v := secret.Annotations[podgroup.AnnotFinal]; v != "" {
			o.secret.final = decodeFinal(v)
		}
	}
	sorted := append([]*corev1.Pod(nil), pods...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	ps := &o.pods
	for _, p := range sorted {
		ps.total++
		head := p.Labels[podgroup.LabelRank] == "0"
		node := p.Spec.NodeName
		if head {
			ps.head.exists, ps.head.bound = true, node != ""
		}
		if st := p.Status.StartTime; st != nil && (ps.start.IsZero() || st.Time.Before(ps.start)) {
			ps.start = st.Time
		}
		if why := lossOf(p, nodeExists); why != "" {
			ps.lost = append(ps.lost, why)
			if head {
				ps.head.lost = true
			} else {
				ps.workersGone++
			}
			continue
		}
		ps.present++
		if node != "" {
			ps.bound++
		}
		switch p.Status.Phase {
		case corev1.PodRunning:
			ps.running++
		case corev1.PodSucceeded, corev1.PodFailed:
			if head {
				ps.head.done, ps.head.phase = true, p.Status.Phase
				ps.head.exit = exitCode(p)
				ps.head.deadline = p.Status.Reason == "DeadlineExceeded"
			} else if p.Status.Phase == corev1.PodFailed {
				ps.workersGone++
				if ps.workerFailed == "" {
					ps.workerFailed, ps.workerExit = p.Name, exitCode(p)
				}
			} else if p.Status.Phase == corev1.PodSucceeded {
				ps.workersDone++
			}
		}
	}
	return o
}

// lossOf says why pod p is lost to its job ("" if it is not): it is being
// deleted (evicted, preempted, or deleted), it was evicted by its node, or
// its node is gone.
func lossOf(p *corev1.Pod, nodeExists func(string) bool) string {
	where := ""
	if p.Spec.NodeName != "" {
		where = " on node " + p.Spec.NodeName
	}
	disruption := ""
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			disruption = c.Reason
			if c.Message != "" {
				disruption += ": " + c.Message
			}
		}
	}
	switch {
	case p.Spec.NodeName != "" && !nodeExists(p.Spec.NodeName):
		return fmt.Sprintf("node %s was deleted (pod %s lost)", p.Spec.NodeName, p.Name)
	case p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted":
		return fmt.Sprintf("pod %s%s was evicted: %s", p.Name, where, p.Status.Message)
	case p.DeletionTimestamp != nil && disruption != "":
		return fmt.Sprintf("pod %s%s was evicted (%s)", p.Name, where, disruption)
	case p.DeletionTimestamp != nil:
		return fmt.Sprintf("pod %s%s was deleted", p.Name, where)
	}
	return ""
}

// startedBy bounds the job's start from above: the pods' earliest start
// time, which the API keeps to the second, rounded up, so that walltime
// counted from it never cuts a job short. Zero if no pod started.
func (ps podsObs) startedBy() time.Time {
	if ps.start.IsZero() {
		return ps.start
	}
	return ps.start.Truncate(time.Second).Add(time.Second)
}

func exitCode(p *corev1.Pod) int {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Terminated != nil {
			return int(cs.State.Terminated.ExitCode)
		}
	}
	if p.Status.Phase == corev1.PodFailed {
		return 1
	}
	return 0
}
