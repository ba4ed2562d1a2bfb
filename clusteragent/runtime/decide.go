package runtime

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jobView is what the runner knows of a job besides what the cluster
// shows: the assignment, what it decided and reported, and what the hub
// acknowledged.
type jobView struct {
	nodes    int
	walltime time.Duration
	// problem says why the job cannot run ("" if it can).
	problem string
	// assigned: the hub assigned the job here. False for a job whose
	// objects were found in the cluster without an assignment (after a
	// restart), until the hub's listing says what it is.
	assigned bool
	// state is the job's last known state: the hub's at assignment, then
	// the last one reported from here.
	state    structs.JobState
	canceled bool
	// tearingDown: level 2 is deleting the job's partly bound gang.
	tearingDown bool
	// voidStarts are head pod UIDs level 2 deleted unbound: a start
	// record naming one of them is void.
	voidStarts []string
	// startedAt is when the job was seen running (zero before).
	startedAt time.Time
	// array: an array job, whose workers exit 0 and their pods end when
	// nothing is left for them to run while the head still runs.
	array bool
	// placedAt is when this runner created the job's gang pre-placed:
	// its start record is written before its head is created, so the
	// informers may show the record before all the pods; a pod not seen
	// within grace of it is on its way, not lost.
	placedAt time.Time
	// secretMade is when this runner last created (or read) the job
	// Secret from the API server while its informer had not shown it
	// yet (zero once it has): the pods it then creates, bound, may reach
	// the pod informer before the Secret reaches the Secret informer, so
	// a Secret unseen within grace of it is on its way, not gone.
	secretMade time.Time
	// grace is the runner's PlacedGrace (0: DefaultPlacedGrace).
	grace time.Duration

	// final is the job's end once decided; recorded says it is on the job
	// Secret (or there was no Secret to hold it), reported that it was
	// handed to the report hook, podsStopped that its pods were deleted,
	// acked that the hub acknowledged it, and cleaned that the deletion of
	// the job's objects was requested.
	final       *Final
	recorded    bool
	reported    bool
	podsStopped bool
	acked       bool
	cleaned     bool
}

// actionKind is what the runner does next about a job.
type actionKind string

const (
	actWait     actionKind = "wait"      // nothing now; why says why
	actCreate   actionKind = "create"    // create the job's missing objects
	actProgress actionKind = "progress"  // report progress (STARTING, RUNNING)
	actEnd      actionKind = "end"       // the job ends as final says
	actRecord   actionKind = "record"    // write the final state on the job Secret
	actReport   actionKind = "report"    // report the final state
	actStopPods actionKind = "stop-pods" // delete the ended job's pods
	actCleanup  actionKind = "cleanup"   // delete the job's objects
	actForget   actionKind = "forget"    // stop tracking the job
)

// progress is one state change to report.
type progress struct {
	State     structs.JobState
	Substatus string
}

// decision is the next step for one job.
type decision struct {
	Kind actionKind
	// Why explains a wait.
	Why string
	// Progress lists the states to report, in order (actProgress), and
	// StartedAt when the job started running, if it just did.
	Progress  []progress
	StartedAt time.Time
	// Final is the end (actEnd); Recorded says it was read from the job
	// Secret, so it needs no writing.
	Final    *Final
	Recorded bool
}

// decide returns the next step for a job from what the runner knows of it,
// what the cluster shows, and the time. It is pure.
//
// The rules, in order: a recorded final state is adopted; a job that
// cannot run (problem) ends at once and creates nothing — unless it may
// have run already, when it keeps what it started with; a job that may
// have run (its head bound, or a start recorded without the head to prove
// otherwise) ends when its head ends, a worker fails, its walltime passes,
// or any pod is lost — it never has pods created again; a canceled job
// ends TERMINATED if it may have run, else CANCELED. A job that never ran
// gets its missing objects created. An array job's worker pods that exit 0
// while its head runs are released, not failed: they count as running
// for the job's start; its worker pods that fail, are lost or go missing
// do not end it either (the head's dispatcher grants their tasks to the
// other pods once their leases expire): only its head does (a head this
// runner created pre-placed under its grace ago and not yet seen is on
// its way, not lost). An ended job's final state is
// recorded on its Secret, then reported, then its pods are stopped; its
// Secret and the rest go once the hub has acknowledged the end.
func decide(j jobView, o observation, now time.Time) decision {
	if j.final != nil {
		return decideEnded(j, o)
	}
	if o.secret.final != nil {
		return decision{Kind: actEnd, Final: o.secret.final, Recorded: true}
	}
	ran := mayHaveRun(j, o, now)
	if j.problem != "" && !ran {
		return end(structs.JobCompletedWithError, j.problem, 1, now)
	}
	if ran && !j.tearingDown {
		if d, ok := decideRunEnd(j, o, now); ok {
			return d
		}
	}
	if j.canceled {
		if ran || j.state.Started() {
			return end(structs.JobTerminated, "terminated by request", 0, now)
		}
		if !j.assigned && !o.secret.exists && o.pods.total == 0 {
			return decision{Kind: actForget} // nothing of it here, nothing known to report
		}
		return end(structs.JobCanceled, "canceled by request", 0, now)
	}
	switch {
	case !j.assigned:
		return wait("found in the cluster, not (yet) assigned here")
	case j.tearingDown:
		return wait("level 2 is tearing down its partly bound gang")
	case ran:
		return decideRunning(j, o, now)
	case o.secret.deleting:
		return wait("its job Secret is being deleted")
	case !o.secret.exists && j.inGrace(j.secretMade, now):
		return wait("its job Secret is not yet seen")
	case !o.secret.exists:
		return decision{Kind: actCreate}
	case o.pods.bound > 0 && o.pods.present < j.nodes:
		// A partly bound gang with pods missing (a crash while it was
		// created pre-placed, a rollback cut short, a pod deleted): its
		// head never ran; the missing pods are created unbound, and level
		// 2 completes the gang or tears it down.
		return decision{Kind: actCreate}
	case o.pods.present < j.nodes:
		return decision{Kind: actCreate}
	}
	return wait("pods wait for level 2")
}

// mayHaveRun reports whether the job's command may have run: its head is
// or was bound (a head pod present unbound proves it never ran; pods are
// never created once a start is recorded), a start record names no head
// known to have been deleted unbound, or the job was reported started.
// Pods bound without a Secret to tell may have run, unless this runner
// made the Secret moments ago and its informer has not shown it yet
// (secretMade): then the pods are ones it just created, and a rollback of
// them (pods being deleted) is no loss of a job that ran.
func mayHaveRun(j jobView, o observation, now time.Time) bool {
	switch {
	case j.state.Started():
		return true
	case o.pods.head.exists:
		return o.pods.head.bound
	case o.secret.started != "" && !slices.Contains(j.voidStarts, o.secret.started):
		return true
	case !o.secret.exists && o.pods.bound > 0:
		return !j.inGrace(j.secretMade, now) // no record to tell; pods of it are bound
	}
	return false
}

// decideRunEnd returns the end of a job that may have run, if it ended.
func decideRunEnd(j jobView, o observation, now time.Time) (decision, bool) {
	h := o.pods.head
	switch {
	case h.done && h.deadline:
		return end(structs.JobTerminated, "walltime exceeded", h.exit, now), true
	case h.done && h.phase == "Succeeded":
		return end(structs.JobCompleted, "head exited 0", 0, now), true
	case h.done:
		return end(structs.JobCompletedWithError, fmt.Sprintf("head exited %d", h.exit)+exitMeaning(h.exit), h.exit, now), true
	case o.pods.workerFailed != "" && !j.array:
		return end(structs.JobCompletedWithError, "worker pod "+o.pods.workerFailed+" failed"+exitMeaning(o.pods.workerExit), 1, now), true
	}
	if w := j.walltime; w > 0 {
		start := j.startedAt
		if start.IsZero() {
			start = o.pods.startedBy()
		}
		if !start.IsZero() && now.After(start.Add(w)) {
			return end(structs.JobTerminated, fmt.Sprintf("walltime %s exceeded", w), 0, now), true
		}
	}
	if j.array {
		switch {
		case o.pods.head.lost:
			return end(structs.JobCompletedWithError, "lost: "+strings.Join(o.pods.lost, "; "), 1, now), true
		case !o.pods.head.exists && !j.inGrace(j.placedAt, now):
			// A gang this runner created pre-placed moments ago has its
			// start recorded before its head is created (the head last):
			// a head the pod informer has not shown yet is on its way.
			return end(structs.JobCompletedWithError, "lost its head pod", 1, now), true
		}
		return decision{}, false
	}
	if len(o.pods.lost) > 0 {
		return end(structs.JobCompletedWithError, "lost: "+strings.Join(o.pods.lost, "; "), 1, now), true
	}
	if missing := j.nodes - o.pods.present; missing > 0 && !(o.pods.total < j.nodes && j.inGrace(j.placedAt, now)) {
		why := fmt.Sprintf("lost %d of %d pods", missing, j.nodes)
		if !o.secret.exists {
			why += " (and its job Secret)"
		}
		return end(structs.JobCompletedWithError, why, 1, now), true
	}
	return decision{}, false
}

// DefaultPlacedGrace bounds how long pods of a gang this runner created
// pre-placed (and a job Secret it created) may stay unseen by its
// informers before they count as lost (Reconciler.PlacedGrace).
const DefaultPlacedGrace = 30 * time.Second

// inGrace reports whether something the runner made at at may still be
// on its way to its informers.
func (j jobView) inGrace(at, now time.Time) bool {
	grace := j.grace
	if grace <= 0 {
		grace = DefaultPlacedGrace
	}
	return !at.IsZero() && now.Sub(at) < grace
}

// decideRunning reports the progress of a job that may have run and has
// not ended.
func decideRunning(j jobView, o observation, now time.Time) decision {
	var p []progress
	starting := progress{structs.JobStarting, "all pods bound, starting"}
	running := o.pods.running
	if j.array {
		running += o.pods.workersDone + o.pods.workersGone // released early or lost: not a gang failure
	}
	switch {
	case running >= j.nodes:
		if j.state != structs.JobStarting && j.state != structs.JobRunning {
			p = append(p, starting)
		}
		if j.state != structs.JobRunning {
			p = append(p, progress{structs.JobRunning, fmt.Sprintf("%d of %d pods running", running, j.nodes)})
			started := now
			if s := o.pods.startedBy(); !s.IsZero() && s.Before(started) {
				started = s
			}
			return decision{Kind: actProgress, Progress: p, StartedAt: started}
		}
	case o.pods.bound >= j.nodes:
		if j.state != structs.JobStarting && j.state != structs.JobRunning {
			return decision{Kind: actProgress, Progress: []progress{starting}}
		}
	}
	if !o.pods.head.bound {
		return wait("start recorded, head not yet bound")
	}
	return wait("running")
}

// decideEnded carries an ended job through record, report, pod stop, the
// hub's acknowledgement and cleanup.
func decideEnded(j jobView, o observation) decision {
	switch {
	case !j.recorded && o.secret.exists && !o.secret.deleting && o.secret.final == nil:
		return decision{Kind: actRecord}
	case !j.reported:
		return decision{Kind: actReport}
	case !j.podsStopped && o.pods.present > 0:
		return decision{Kind: actStopPods}
	case !j.acked:
		return wait("final state not yet acknowledged by the hub")
	case !j.cleaned:
		return decision{Kind: actCleanup}
	case o.secret.exists || o.pods.total > 0:
		return wait("objects being removed")
	}
	return decision{Kind: actForget}
}

func end(s structs.JobState, sub string, code int, now time.Time) decision {
	return decision{Kind: actEnd, Final: &Final{State: s, Substatus: sub, ExitCode: code, Time: now}}
}

func wait(why string) decision { return decision{Kind: actWait, Why: why} }

// exitMeaning is ": " and what a status of flotilla-init's own means, ""
// for the others (the app command's).
func exitMeaning(code int) string {
	if m := initproc.ExitMeaning(code); m != "" {
		return ": " + m
	}
	return ""
}
