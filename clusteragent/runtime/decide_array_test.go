package runtime

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestDecideArray: an array job's workers leave (exit 0, their pods end
// Succeeded) while its head runs; that is a release, not a gang failure;
// the job ends when its head ends.
func TestDecideArray(t *testing.T) {
	arr := func(state structs.JobState) jobView {
		return assigned().with(func(j *jobView) { j.array, j.state = true, state })
	}
	twoLeft := func(o *observation) { o.pods.running, o.pods.workersDone = 2, 2 }
	for name, tc := range map[string]struct {
		job  jobView
		obs  observation
		want decision
	}{
		"workers released while the head runs: still running": {
			arr(structs.JobRunning), obs(started("h"), allBound, twoLeft), wait("running"),
		},
		"a worker released before every pod ran: the job still starts": {
			arr(structs.JobStarting), obs(started("h"), allBound, func(o *observation) { o.pods.running, o.pods.workersDone = 3, 1 }),
			decision{Kind: actProgress, Progress: []progress{{structs.JobRunning, "4 of 4 pods running"}}, StartedAt: dt0},
		},
		"the same pods for a job that is not an array: not all running": {
			assigned().with(func(j *jobView) { j.state = structs.JobStarting }),
			obs(started("h"), allBound, func(o *observation) { o.pods.running, o.pods.workersDone = 3, 1 }),
			wait("running"),
		},
		"every worker released, the head ends 0: completed": {
			arr(structs.JobRunning), obs(started("h"), allBound, func(o *observation) {
				o.pods.running, o.pods.workersDone = 0, 3
				o.pods.head.done, o.pods.head.phase = true, "Succeeded"
			}),
			endAt(structs.JobCompleted, "head exited 0", 0),
		},
		"tasks failed for good: the head exits 1": {
			arr(structs.JobRunning), obs(started("h"), allBound, func(o *observation) {
				o.pods.workersDone = 3
				o.pods.head.done, o.pods.head.phase, o.pods.head.exit = true, "Failed", 1
			}),
			endAt(structs.JobCompletedWithError, "head exited 1", 1),
		},
		"a worker that failed does not end an array job (its tasks go to the others)": {
			arr(structs.JobRunning), obs(started("h"), allBound, func(o *observation) {
				o.pods.running, o.pods.workerFailed, o.pods.workersGone = 3, "j1-2", 1
			}),
			wait("running"),
		},
		"a worker lost with its node does not end an array job either": {
			arr(structs.JobRunning), obs(started("h"), allBound, func(o *observation) {
				o.pods.running, o.pods.present, o.pods.workersGone = 3, 3, 1
				o.pods.lost = []string{"node n2 was deleted (pod j1-2 lost)"}
			}),
			wait("running"),
		},
		"a worker that failed before all pods ran: the array still starts": {
			arr(structs.JobStarting), obs(started("h"), allBound, func(o *observation) {
				o.pods.running, o.pods.workerFailed, o.pods.workersGone = 3, "j1-2", 1
			}),
			decision{Kind: actProgress, Progress: []progress{{structs.JobRunning, "4 of 4 pods running"}}, StartedAt: dt0},
		},
		// The binder records the start on the Secret, then creates the
		// gang pre-placed, the head last; the pod informer may show the
		// workers before the head. What TestArrayAgentCrash saw under
		// load: the job ended "lost its head pod" 150 ms after it was
		// assigned, and its tasks never ran.
		"created pre-placed just now, start recorded, head not seen yet: wait for it": {
			arr(structs.JobAssigned).with(func(j *jobView) { j.placedAt = dt0.Add(-time.Second) }),
			obs(started("h"), podsAre{present: 3, bound: 3}), wait("start recorded, head not yet bound"),
		},
		"created pre-placed long ago, head never seen: lost": {
			arr(structs.JobAssigned).with(func(j *jobView) { j.placedAt = dt0.Add(-DefaultPlacedGrace) }),
			obs(started("h"), podsAre{present: 3, bound: 3}), endAt(structs.JobCompletedWithError, "lost its head pod", 1),
		},
		"start recorded by another run (no placement here), head gone: lost": {
			arr(structs.JobAssigned), obs(started("h"), podsAre{present: 3, bound: 3}),
			endAt(structs.JobCompletedWithError, "lost its head pod", 1),
		},
		"a lost head ends an array job": {
			arr(structs.JobRunning), obs(started("h"), allBound, func(o *observation) {
				o.pods.running, o.pods.present, o.pods.head.lost = 3, 3, true
				o.pods.lost = []string{"node n0 was deleted (pod j1-0 lost)"}
			}),
			endAt(structs.JobCompletedWithError, "lost: node n0 was deleted (pod j1-0 lost)", 1),
		},
		"the same failed worker ends a job that is not an array": {
			assigned().with(func(j *jobView) { j.state = structs.JobRunning }),
			obs(started("h"), allBound, func(o *observation) { o.pods.running, o.pods.workerFailed, o.pods.workersGone = 3, "j1-2", 1 }),
			endAt(structs.JobCompletedWithError, "worker pod j1-2 failed", 1),
		},
	} {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, decide(tc.job, tc.obs, dt0)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseArrayProgress(t *testing.T) {
	log := "flotilla-init: starting\n" +
		"FLOTILLA-ARRAY-PROGRESS {\"total\":10,\"pending\":5,\"running\":2,\"succeeded\":3,\"failed\":0,\"retried\":1,\"nodes\":2,\"peak_running\":2,\"slot_seconds\":1,\"node_seconds\":0.5}\n" +
		"FLOTILLA-ARRAY-PROGRESS {\"total\":10,\"pending\":0,\"running\":0,\"succeeded\":10,\"failed\":0,\"retried\":1,\"nodes\":0,\"peak_running\":2,\"slot_seconds\":2,\"node_seconds\":1}\n" +
		"FLOTILLA-ARRAY-PROGRESS {\"total\":10,\"pend" // torn
	p := parseArrayProgress(log)
	want := &structs.ArrayProgress{Total: 10, Succeeded: 10, Retried: 1, PeakRunning: 2, SlotSeconds: 2, NodeSeconds: 1}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if parseArrayProgress("no progress here\n") != nil {
		t.Error("progress found in a log without it")
	}
	if got := stripArrayLines(log); got != "flotilla-init: starting\n" {
		t.Errorf("stripArrayLines = %q", got)
	}
}
