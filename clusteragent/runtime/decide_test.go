package runtime

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

var dt0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// assigned is a 4-node job the hub assigned here, as the runner first
// knows it.
func assigned() jobView {
	return jobView{nodes: 4, assigned: true, state: structs.JobAssigned}
}

func (j jobView) with(f func(*jobView)) jobView { f(&j); return j }

func ended(s structs.JobState, f func(*jobView)) jobView {
	j := assigned()
	j.final = &Final{State: s, Substatus: "x", Time: dt0}
	if f != nil {
		f(&j)
	}
	return j
}

// obsOf builds an observation: the Secret (nil: none) and pod counts.
type podsAre struct {
	present, bound, running int
	headBound, headExists   bool
}

func obs(secret *secretObs, p podsAre, f ...func(*observation)) observation {
	o := observation{pods: podsObs{total: p.present, present: p.present, bound: p.bound, running: p.running,
		head: headObs{exists: p.headExists, bound: p.headBound}}}
	if secret != nil {
		o.secret = *secret
	}
	for _, fn := range f {
		fn(&o)
	}
	return o
}

func sec() *secretObs { return &secretObs{exists: true} }

func started(uid string) *secretObs { return &secretObs{exists: true, started: uid} }

var (
	none       = podsAre{}
	pendingAll = podsAre{present: 4, headExists: true}
	workers    = podsAre{present: 4, bound: 3, headExists: true} // head unbound
	allBound   = podsAre{present: 4, bound: 4, headExists: true, headBound: true}
	allRunning = podsAre{present: 4, bound: 4, running: 4, headExists: true, headBound: true}
)

func endAt(s structs.JobState, sub string, code int) decision {
	return decision{Kind: actEnd, Final: &Final{State: s, Substatus: sub, ExitCode: code, Time: dt0}}
}

// TestDecideTable is the runner's decision table: every job state (new,
// assigned, starting, running, canceled, cannot run, found without an
// assignment, ended at each step of record → report → stop → hub
// acknowledgement → cleanup) against the pods and Secret the cluster
// shows. Once a job may have run — its head bound, or a start recorded
// without an unbound head to disprove it, or reported started — nothing is
// ever created for it again.
func TestDecideTable(t *testing.T) {
	later := dt0.Add(-10 * time.Minute)
	for name, tc := range map[string]struct {
		job  jobView
		obs  observation
		want decision
	}{
		// Not run yet: level 1 creates what is missing.
		"new job, nothing in the cluster: create": {
			assigned(), obs(nil, none), decision{Kind: actCreate},
		},
		"secret created, no pods yet: create the pods": {
			assigned(), obs(sec(), none), decision{Kind: actCreate},
		},
		"pods partly created, none bound: create the rest": {
			assigned(), obs(sec(), podsAre{present: 2, headExists: true}), decision{Kind: actCreate},
		},
		"all pods pending: wait for level 2": {
			assigned(), obs(sec(), pendingAll), wait("pods wait for level 2"),
		},
		"workers bound, head unbound: not started, wait for level 2 to complete it": {
			assigned(), obs(sec(), workers), wait("pods wait for level 2"),
		},
		"workers bound, head unbound, a worker gone: create it unbound, level 2 completes the gang": {
			assigned(), obs(sec(), podsAre{present: 3, bound: 2, headExists: true}), decision{Kind: actCreate},
		},
		"workers created pre-placed, no head (a crash, a rollback cut short): create the rest unbound": {
			assigned(), obs(sec(), podsAre{present: 3, bound: 3}), decision{Kind: actCreate},
		},
		"created pre-placed just now, start recorded, a pod not seen yet: wait for it": {
			assigned().with(func(j *jobView) { j.placedAt = dt0.Add(-5 * time.Second) }),
			obs(started("head-1"), podsAre{present: 3, bound: 3}), wait("start recorded, head not yet bound"),
		},
		"created pre-placed long ago, a pod never seen: lost": {
			assigned().with(func(j *jobView) { j.placedAt = dt0.Add(-DefaultPlacedGrace) }),
			obs(started("head-1"), podsAre{present: 3, bound: 3}), endAt(structs.JobCompletedWithError, "lost 1 of 4 pods", 1),
		},
		"created pre-placed 5 s ago under a 5 s grace (PlacedGrace), a pod never seen: lost": {
			assigned().with(func(j *jobView) { j.placedAt, j.grace = dt0.Add(-5*time.Second), 5*time.Second }),
			obs(started("head-1"), podsAre{present: 3, bound: 3}), endAt(structs.JobCompletedWithError, "lost 1 of 4 pods", 1),
		},
		// The Secret informer lags the pod informer: this runner made the
		// Secret, then created the pods pre-placed, and a rollback of them
		// (a node gone) shows bound pods being deleted before the Secret
		// is seen. What TestPrePlacedGangAtomic saw under load: the job
		// was taken for one that ran and ended "lost: pod ... was deleted".
		"secret made just now, unseen; bound pods rolled back: wait for the secret": {
			assigned().with(func(j *jobView) { j.secretMade = dt0.Add(-2 * time.Second) }),
			obs(nil, podsAre{present: 1, bound: 1}, func(o *observation) {
				o.pods.total, o.pods.lost = 2, []string{"pod j1-3 on node n4 was deleted"}
			}),
			wait("its job Secret is not yet seen"),
		},
		"secret made just now, unseen; workers bound, head unbound: wait for the secret": {
			assigned().with(func(j *jobView) { j.secretMade = dt0.Add(-2 * time.Second) }),
			obs(nil, workers), wait("its job Secret is not yet seen"),
		},
		"secret made long ago, never seen; bound pods lost: may have run, ends": {
			assigned().with(func(j *jobView) { j.secretMade = dt0.Add(-DefaultPlacedGrace) }),
			obs(nil, podsAre{present: 2, bound: 2}, func(o *observation) {
				o.pods.total, o.pods.lost = 3, []string{"pod j1-1 on node n4 was deleted"}
			}),
			endAt(structs.JobCompletedWithError, "lost: pod j1-1 on node n4 was deleted", 1),
		},
		"secret made just now, unseen; head bound: may have run (the head proves it)": {
			assigned().with(func(j *jobView) { j.secretMade = dt0.Add(-2 * time.Second) }),
			obs(nil, allBound),
			decision{Kind: actProgress, Progress: []progress{{structs.JobStarting, "all pods bound, starting"}}},
		},
		"start recorded, head still unbound (crash before its bind): not started": {
			assigned(), obs(started("head-1"), workers), wait("pods wait for level 2"),
		},
		"start recorded, head gone unseen: may have run, never recreated": {
			assigned(), obs(started("head-1"), podsAre{present: 3, bound: 3}),
			endAt(structs.JobCompletedWithError, "lost 1 of 4 pods", 1),
		},
		"start recorded, every pod gone: may have run, never recreated": {
			assigned(), obs(started("head-1"), none), endAt(structs.JobCompletedWithError, "lost 4 of 4 pods", 1),
		},
		// A pre-placed create cut short after its start record (the agent's
		// ctx cancelled with the patch stored and its reply lost): if the
		// binder then deleted the head, a restarted runner could only end
		// the job as one that may have run — what TestAgentGangScheduling/
		// preplaced saw under load. The binder now withdraws the record
		// before it deletes the head, or leaves the gang whole.
		"restart: start record stored with its reply lost, gang rolled back: may have run, ends": {
			assigned(), obs(started("head-1"), none), endAt(structs.JobCompletedWithError, "lost 4 of 4 pods", 1),
		},
		"restart: start record stored with its reply lost, gang left whole to level 2: waits for it": {
			assigned(), obs(started("head-1"), workers), wait("pods wait for level 2"),
		},
		"restart: start record withdrawn before the rollback: rebuilt": {
			assigned(), obs(sec(), none), decision{Kind: actCreate},
		},
		"same runner, rollback done, informer still shows the withdrawn record: void, rebuilt": {
			assigned().with(func(j *jobView) { j.voidStarts = []string{"head-1"} }), obs(started("head-1"), podsAre{present: 2, bound: 2}),
			decision{Kind: actCreate},
		},
		"start record void (its head deleted unbound by level 2): rebuilt": {
			assigned().with(func(j *jobView) { j.voidStarts = []string{"head-1"} }), obs(started("head-1"), none),
			decision{Kind: actCreate},
		},
		"level 2 tearing the gang down: wait, even with the start recorded": {
			assigned().with(func(j *jobView) { j.tearingDown = true }), obs(started("head-1"), podsAre{present: 2, bound: 2}),
			wait("level 2 is tearing down its partly bound gang"),
		},
		"job secret being deleted before the start: wait": {
			assigned(), obs(&secretObs{exists: true, deleting: true}, none), wait("its job Secret is being deleted"),
		},
		"acknowledged while pending (the hub has an end): nothing until it ends": {
			assigned().with(func(j *jobView) { j.acked = true }), obs(sec(), pendingAll), wait("pods wait for level 2"),
		},

		// Cannot run: ends at once, nothing created.
		"problem: ends with the hub's reason, nothing created": {
			assigned().with(func(j *jobView) { j.problem = `app "solver" no longer exists` }), obs(nil, none),
			endAt(structs.JobCompletedWithError, `app "solver" no longer exists`, 1),
		},

		"problem once it runs (its app deleted meanwhile): it keeps what it started with": {
			assigned().with(func(j *jobView) { j.problem, j.state = `app "solver" no longer exists`, structs.JobRunning }),
			obs(started("h"), allRunning), wait("running"),
		},
		"problem, objects left by an earlier agent, never ran: ends, creates nothing": {
			assigned().with(func(j *jobView) { j.problem = `app "solver" no longer exists` }), obs(sec(), workers),
			endAt(structs.JobCompletedWithError, `app "solver" no longer exists`, 1),
		},

		// Found in the cluster without an assignment (after a restart).
		"found, recorded end: adopted as recorded": {
			jobView{}, obs(&secretObs{exists: true, final: &Final{State: structs.JobCompleted, Substatus: "head exited 0", Time: later}}, none),
			decision{Kind: actEnd, Recorded: true, Final: &Final{State: structs.JobCompleted, Substatus: "head exited 0", Time: later}},
		},
		"found, no end, not listed yet: wait for the hub": {
			jobView{nodes: 4}, obs(started("h"), allRunning), wait("found in the cluster, not (yet) assigned here"),
		},
		"found, head exited 0 meanwhile: ends COMPLETED": {
			jobView{nodes: 4}, obs(started("h"), allBound, func(o *observation) {
				o.pods.head.done, o.pods.head.phase = true, corev1.PodSucceeded
			}),
			endAt(structs.JobCompleted, "head exited 0", 0),
		},
		"canceled, unknown, nothing in the cluster: forgotten": {
			jobView{canceled: true}, obs(nil, none), decision{Kind: actForget},
		},
		"found, not in the hub's listing, never ran: CANCELED": {
			jobView{nodes: 4, canceled: true}, obs(sec(), pendingAll), endAt(structs.JobCanceled, "canceled by request", 0),
		},

		// May have run: progress, ends, losses.
		"all bound: STARTING": {
			assigned(), obs(started("h"), allBound),
			decision{Kind: actProgress, Progress: []progress{{structs.JobStarting, "all pods bound, starting"}}},
		},
		"all running: STARTING then RUNNING, started at the pods' start": {
			assigned(), obs(started("h"), allRunning, func(o *observation) { o.pods.start = dt0.Add(-3500 * time.Millisecond) }),
			decision{Kind: actProgress, Progress: []progress{
				{structs.JobStarting, "all pods bound, starting"}, {structs.JobRunning, "4 of 4 pods running"},
			}, StartedAt: dt0.Add(-3 * time.Second)},
		},
		"all running, STARTING reported: RUNNING": {
			assigned().with(func(j *jobView) { j.state = structs.JobStarting }), obs(started("h"), allRunning),
			decision{Kind: actProgress, Progress: []progress{{structs.JobRunning, "4 of 4 pods running"}}, StartedAt: dt0},
		},
		"running, RUNNING reported: wait": {
			assigned().with(func(j *jobView) { j.state = structs.JobRunning }), obs(started("h"), allRunning), wait("running"),
		},
		"running and acknowledged: an ack never stops a job": {
			assigned().with(func(j *jobView) { j.state, j.acked = structs.JobRunning, true }), obs(started("h"), allRunning), wait("running"),
		},
		"head exited 0: COMPLETED": {
			assigned().with(func(j *jobView) { j.state = structs.JobRunning }), obs(started("h"), allBound, func(o *observation) {
				o.pods.head.done, o.pods.head.phase = true, corev1.PodSucceeded
			}),
			endAt(structs.JobCompleted, "head exited 0", 0),
		},
		"head exited 3: COMPLETED_WITH_ERROR 3": {
			assigned().with(func(j *jobView) { j.state = structs.JobRunning }), obs(started("h"), allBound, func(o *observation) {
				o.pods.head.done, o.pods.head.phase, o.pods.head.exit = true, corev1.PodFailed, 3
			}),
			endAt(structs.JobCompletedWithError, "head exited 3", 3),
		},
		"head's working directory missing: the reason says so": {
			assigned().with(func(j *jobView) { j.state = structs.JobRunning }), obs(started("h"), allBound, func(o *observation) {
				o.pods.head.done, o.pods.head.phase, o.pods.head.exit = true, corev1.PodFailed, 72
			}),
			endAt(structs.JobCompletedWithError, "head exited 72: the job's working directory does not exist on the node", 72),
		},
		"a worker's working directory missing: the reason says so": {
			assigned().with(func(j *jobView) { j.state = structs.JobRunning }), obs(started("h"), allRunning, func(o *observation) {
				o.pods.workerFailed, o.pods.workerExit = "j1-2", 72
			}),
			endAt(structs.JobCompletedWithError, "worker pod j1-2 failed: the job's working directory does not exist on the node", 1),
		},
		"head stopped by its deadline: TERMINATED": {
			assigned().with(func(j *jobView) { j.state = structs.JobRunning }), obs(started("h"), allBound, func(o *observation) {
				o.pods.head.done, o.pods.head.phase, o.pods.head.exit, o.pods.head.deadline = true, corev1.PodFailed, 137, true
			}),
			endAt(structs.JobTerminated, "walltime exceeded", 137),
		},
		"a worker failed: COMPLETED_WITH_ERROR": {
			assigned().with(func(j *jobView) { j.state = structs.JobRunning }), obs(started("h"), allRunning, func(o *observation) {
				o.pods.workerFailed = "j1-2"
			}),
			endAt(structs.JobCompletedWithError, "worker pod j1-2 failed", 1),
		},
		"walltime passed: TERMINATED": {
			assigned().with(func(j *jobView) {
				j.state, j.walltime, j.startedAt = structs.JobRunning, time.Minute, dt0.Add(-61*time.Second)
			}), obs(started("h"), allRunning),
			endAt(structs.JobTerminated, "walltime 1m0s exceeded", 0),
		},
		"walltime not yet passed: wait": {
			assigned().with(func(j *jobView) {
				j.state, j.walltime, j.startedAt = structs.JobRunning, time.Minute, dt0.Add(-59*time.Second)
			}), obs(started("h"), allRunning), wait("running"),
		},
		"a node deleted under a running job: ends naming the node": {
			assigned().with(func(j *jobView) { j.state = structs.JobRunning }),
			obs(started("h"), podsAre{present: 3, bound: 3, running: 3, headExists: true, headBound: true}, func(o *observation) {
				o.pods.total, o.pods.lost = 4, []string{"node n-02 was deleted (pod j1-2 lost)"}
			}),
			endAt(structs.JobCompletedWithError, "lost: node n-02 was deleted (pod j1-2 lost)", 1),
		},
		"a pod evicted: ends naming the eviction": {
			assigned().with(func(j *jobView) { j.state = structs.JobRunning }),
			obs(started("h"), podsAre{present: 3, bound: 3, running: 3, headExists: true, headBound: true}, func(o *observation) {
				o.pods.total, o.pods.lost = 4, []string{"pod j1-3 on node n-03 was evicted (EvictionByEvictionAPI)"}
			}),
			endAt(structs.JobCompletedWithError, "lost: pod j1-3 on node n-03 was evicted (EvictionByEvictionAPI)", 1),
		},
		"reported RUNNING, every pod and the Secret gone: ends, nothing recreated": {
			assigned().with(func(j *jobView) { j.state = structs.JobRunning }), obs(nil, none),
			endAt(structs.JobCompletedWithError, "lost 4 of 4 pods (and its job Secret)", 1),
		},
		"hub says RUNNING at assignment, nothing here (restart after the end): never recreated": {
			assigned().with(func(j *jobView) { j.state = structs.JobRunning }), obs(sec(), none),
			endAt(structs.JobCompletedWithError, "lost 4 of 4 pods", 1),
		},

		// Cancel.
		"canceled after it may have run: TERMINATED": {
			assigned().with(func(j *jobView) { j.canceled, j.state = true, structs.JobRunning }), obs(started("h"), allRunning),
			endAt(structs.JobTerminated, "terminated by request", 0),
		},
		"canceled with workers bound, head never bound: CANCELED": {
			assigned().with(func(j *jobView) { j.canceled = true }), obs(started("h"), workers),
			endAt(structs.JobCanceled, "canceled by request", 0),
		},
		"canceled as its head exits 0: the exit decides": {
			assigned().with(func(j *jobView) { j.canceled, j.state = true, structs.JobRunning }), obs(started("h"), allBound, func(o *observation) {
				o.pods.head.done, o.pods.head.phase = true, corev1.PodSucceeded
			}),
			endAt(structs.JobCompleted, "head exited 0", 0),
		},

		// Ended: record → report → stop → acknowledgement → cleanup → forget.
		"ended: recorded on the Secret first": {
			ended(structs.JobCompleted, nil), obs(started("h"), allBound), decision{Kind: actRecord},
		},
		"ended without a Secret to hold it: reported": {
			ended(structs.JobCompletedWithError, nil), obs(nil, none), decision{Kind: actReport},
		},
		"ended, recorded: reported": {
			ended(structs.JobCompleted, func(j *jobView) { j.recorded = true }), obs(started("h"), allBound), decision{Kind: actReport},
		},
		"ended, record seen on the Secret: reported": {
			ended(structs.JobCompleted, nil), obs(&secretObs{exists: true, final: &Final{State: structs.JobCompleted}}, none),
			decision{Kind: actReport},
		},
		"ended, reported, pods left: pods stopped": {
			ended(structs.JobTerminated, func(j *jobView) { j.recorded, j.reported = true, true }), obs(started("h"), allRunning),
			decision{Kind: actStopPods},
		},
		"ended, reported, not acknowledged: the Secret stays": {
			ended(structs.JobCompleted, func(j *jobView) { j.recorded, j.reported, j.podsStopped = true, true, true }),
			obs(started("h"), none), wait("final state not yet acknowledged by the hub"),
		},
		"ended, acknowledged before the report went out: reported anyway": {
			ended(structs.JobCompleted, func(j *jobView) { j.recorded, j.acked = true, true }), obs(started("h"), none),
			decision{Kind: actReport},
		},
		"ended, acknowledged: cleaned up": {
			ended(structs.JobCompleted, func(j *jobView) { j.recorded, j.reported, j.podsStopped, j.acked = true, true, true, true }),
			obs(started("h"), none), decision{Kind: actCleanup},
		},
		"ended, acknowledged, cleanup requested, Secret still there: wait": {
			ended(structs.JobCompleted, func(j *jobView) {
				j.recorded, j.reported, j.podsStopped, j.acked, j.cleaned = true, true, true, true, true
			}),
			obs(started("h"), none), wait("objects being removed"),
		},
		"ended, acknowledged, all gone: forgotten": {
			ended(structs.JobCompleted, func(j *jobView) {
				j.recorded, j.reported, j.podsStopped, j.acked, j.cleaned = true, true, true, true, true
			}),
			obs(nil, none), decision{Kind: actForget},
		},
		"ended, canceled later: the end stands": {
			ended(structs.JobCompleted, func(j *jobView) { j.recorded, j.canceled = true, true }), obs(started("h"), allBound),
			decision{Kind: actReport},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := decide(tc.job, tc.obs, dt0)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("decide (-want +got):\n%s", d)
			}
		})
	}
}

// TestNoCreateOnceRun: over every combination of what the runner knows and
// the cluster shows, decide asks to create objects only for a job that
// cannot have run.
func TestNoCreateOnceRun(t *testing.T) {
	states := []structs.JobState{structs.JobAssigned, structs.JobStarting, structs.JobRunning}
	podShapes := []podsAre{none, pendingAll, workers, allBound, allRunning, {present: 2, bound: 2, headExists: true, headBound: true},
		{present: 3, bound: 3}, {present: 2, headExists: true}}
	secrets := []*secretObs{nil, sec(), started("h"), started("void"), {exists: true, deleting: true}}
	n := 0
	for _, st := range states {
		for _, ps := range podShapes {
			for _, s := range secrets {
				for _, void := range []bool{false, true} {
					j := assigned()
					j.state = st
					if void {
						j.voidStarts = []string{"void"}
					}
					o := obs(s, ps)
					d := decide(j, o, dt0)
					n++
					if d.Kind == actCreate && mayHaveRun(j, o, dt0) {
						t.Errorf("state %s, pods %+v, secret %+v, void %v: creates objects for a job that may have run", st, ps, s, void)
					}
					if d.Kind == actCreate && (st.Started() || ps.headBound || (s != nil && s.started == "h" && !ps.headExists)) {
						t.Errorf("state %s, pods %+v, secret %+v: create", st, ps, s)
					}
				}
			}
		}
	}
	t.Logf("%d combinations", n)
}
