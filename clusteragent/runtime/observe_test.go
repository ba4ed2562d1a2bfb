package runtime

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func testPod(name, rank, node string, phase corev1.PodPhase, f ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{podgroup.LabelRank: rank}},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: phase},
	}
	for _, fn := range f {
		fn(p)
	}
	return p
}

// TestObserve condenses pods and the job Secret: losses name the pod and
// its node and say how (node deleted, evicted through the API or by the
// kubelet, deleted); the head's end and the Secret's records are read.
func TestObserve(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	nodes := map[string]bool{"n0": true, "n1": true, "n3": true}
	exists := func(n string) bool { return nodes[n] }
	final := Final{State: structs.JobCompleted, Substatus: "head exited 0", LogTail: "bye\n", Time: now.Time}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		podgroup.AnnotStarted: "uid-head", podgroup.AnnotFinal: final.encode(),
	}}}
	pods := []*corev1.Pod{
		testPod("j1-0", "0", "n0", corev1.PodFailed, func(p *corev1.Pod) {
			p.Status.Reason = "DeadlineExceeded"
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137}}}}
			p.Status.StartTime = &now
		}),
		testPod("j1-1", "1", "n1", corev1.PodRunning),
		testPod("j1-2", "2", "n2", corev1.PodRunning), // n2 deleted
		testPod("j1-3", "3", "n3", corev1.PodRunning, func(p *corev1.Pod) {
			p.DeletionTimestamp = &now
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI"}}
		}),
		testPod("j1-4", "4", "n1", corev1.PodFailed, func(p *corev1.Pod) {
			p.Status.Reason, p.Status.Message = "Evicted", "The node was low on resource: memory."
		}),
		testPod("j1-5", "5", "n3", corev1.PodRunning, func(p *corev1.Pod) { p.DeletionTimestamp = &now }),
		testPod("j1-6", "6", "n3", corev1.PodFailed),
	}
	got := observe(secret, pods, exists)
	want := observation{
		secret: secretObs{exists: true, started: "uid-head", final: &final},
		pods: podsObs{
			total: 7, present: 3, bound: 3, running: 1,
			head:         headObs{exists: true, bound: true, done: true, phase: corev1.PodFailed, exit: 137, deadline: true},
			workerFailed: "j1-6", workerExit: 1, workersGone: 5,
			lost: []string{
				"node n2 was deleted (pod j1-2 lost)",
				"pod j1-3 on node n3 was evicted (EvictionByEvictionAPI)",
				"pod j1-4 on node n1 was evicted: The node was low on resource: memory.",
				"pod j1-5 on node n3 was deleted",
			},
			start: now.Time,
		},
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(observation{}, secretObs{}, podsObs{}, headObs{})); d != "" {
		t.Errorf("observe (-want +got):\n%s", d)
	}
	if f := decodeFinal("{not json"); f.State != structs.JobCompletedWithError || f.Substatus == "" {
		t.Errorf("unreadable record read as %+v", f)
	}
}
