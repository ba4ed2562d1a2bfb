package portal

import (
	"strconv"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// stateBadge shows a state by text and symbol, never by colour alone.
type stateBadge struct {
	State  structs.JobState
	Symbol string
	Class  string // for colour, on top of text and symbol
}

func badgeOf(s structs.JobState) stateBadge {
	b := stateBadge{State: s}
	switch s {
	case structs.JobSubmitted, structs.JobQueued:
		b.Symbol, b.Class = "⏳", "wait"
	case structs.JobHeld:
		b.Symbol, b.Class = "⏸", "held"
	case structs.JobAssigned, structs.JobStarting:
		b.Symbol, b.Class = "➜", "start"
	case structs.JobRunning:
		b.Symbol, b.Class = "▶", "run"
	case structs.JobCompleted:
		b.Symbol, b.Class = "✔", "ok"
	case structs.JobCompletedWithError, structs.JobTerminated:
		b.Symbol, b.Class = "✖", "bad"
	case structs.JobCanceled:
		b.Symbol, b.Class = "⊘", "off"
	default:
		b.Symbol, b.Class = "?", "off"
	}
	return b
}

// timelineEntry is one step of a job's life with its time.
type timelineEntry struct {
	What string
	At   time.Time
	Note string
}

// timelineOf lists the steps a job has taken, from the times the hub
// records.
func timelineOf(j *structs.Job) []timelineEntry {
	var out []timelineEntry
	if !j.SubmitTime.IsZero() {
		out = append(out, timelineEntry{What: "Submitted", At: j.SubmitTime})
	}
	if !j.AssignTime.IsZero() {
		out = append(out, timelineEntry{What: "Assigned", At: j.AssignTime, Note: "to cluster " + j.Cluster})
	}
	if !j.StartTime.IsZero() {
		out = append(out, timelineEntry{What: "Started", At: j.StartTime})
	}
	for _, sig := range j.Signals { // while it ran: after the start, before the end
		out = append(out, timelineEntry{What: "Signal " + structs.SignalName(sig.Signal) + " sent", At: sig.Time,
			Note: signalNote(&sig)})
	}
	if !j.EndTime.IsZero() {
		out = append(out, timelineEntry{What: "Ended: " + string(j.State), At: j.EndTime, Note: j.Substatus})
	}
	return out
}

// signalNote says who sent a signal request, to which processes, and its
// number (the job log's "delivered (request N)" names it).
func signalNote(s *structs.JobSignal) string {
	to := "every process"
	if s.Scope == structs.SignalBatch {
		to = "the main process"
	}
	return "by " + orDash(s.By) + " to " + to + ", request " + strconv.Itoa(s.Seq)
}

// placementOf says where a job runs and why: the machine type's pinned
// cluster, the burst rule that moved it, the dependency or limit that
// holds it, or the reason it still waits (from placement or the cluster's
// scheduler).
func placementOf(j *structs.Job) (where, why string) {
	switch {
	case j.WaitsForDependency():
		return "not placed", "held: " + orDash(j.Substatus)
	case j.State == structs.JobHeld:
		return "not placed", "held by a limit: " + orDash(j.Substatus)
	case j.State == structs.JobSubmitted || j.State == structs.JobQueued:
		return "not placed yet", "waiting: " + orDash(j.Substatus)
	case j.Cluster == "":
		return "never placed", orDash(j.Substatus)
	}
	mt := j.MachineType
	if j.AssignedMachineType != "" {
		mt = j.AssignedMachineType
	}
	if j.BurstRule != "" {
		why = "burst rule " + j.BurstRule + ": moved from " + j.MachineType + " to " + mt
	} else {
		why = "pinned: machine type " + mt + " runs on cluster " + j.Cluster
	}
	if j.Substatus != "" && !j.State.IsTerminal() {
		why += " — " + j.Substatus
	}
	return j.Cluster, why
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// connectURL is the token-guarded address of a running interactive job,
// once its cluster's agent reported it ("" before and after).
func connectURL(j *structs.Job) string {
	if j.State != structs.JobRunning {
		return ""
	}
	return j.ConnectURL
}
