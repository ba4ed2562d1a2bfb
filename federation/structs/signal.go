package structs

import (
	"strconv"
	"strings"
	"time"
)

// Signals to running jobs (Slurm's scancel --signal, JARVICE's
// /jarvice/signal). A request is recorded on the job (Job.Signals, raft
// command JobSignal); the job's cluster agent copies the job's requests
// onto its pods' annotation, and flotilla-init in each pod delivers each
// request once, by its sequence number (docs/cli.md, "Signals").

// SignalScope says which processes of a job a signal reaches.
type SignalScope string

const (
	// SignalAll: every process of the job on every node (Slurm's default
	// and --full): the head's command and what it started, and on every
	// node the commands started through the job's SSH servers; an array
	// job's running tasks on every node.
	SignalAll SignalScope = "all"
	// SignalBatch: the job's main process on the head only (Slurm's
	// --batch): the head's command itself, not its children; an array
	// job's running tasks on the head.
	SignalBatch SignalScope = "batch"
)

// Valid reports whether s is a known scope ("" is not: callers default it).
func (s SignalScope) Valid() bool { return s == SignalAll || s == SignalBatch }

// MaxJobSignals bounds Job.Signals: the last requests are kept, the
// oldest dropped (each was delivered, or superseded, long before).
const MaxJobSignals = 16

// MaxSignal is the highest signal number accepted (Linux's SIGRTMAX).
const MaxSignal = 64

// signalNames are Linux's signal numbers (x86-64 and arm64 agree on
// these), by name without "SIG".
var signalNames = [...]string{1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS",
	8: "FPE", 9: "KILL", 10: "USR1", 11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM",
	16: "STKFLT", 17: "CHLD", 18: "CONT", 19: "STOP", 20: "TSTP", 21: "TTIN", 22: "TTOU", 23: "URG",
	24: "XCPU", 25: "XFSZ", 26: "VTALRM", 27: "PROF", 28: "WINCH", 29: "IO", 30: "PWR", 31: "SYS"}

// ParseSignal reads a signal as a number ("10") or a name with or
// without SIG, any case ("USR1", "SIGUSR1", "usr1"), and returns its
// number, 1..MaxSignal. Every signal is accepted, KILL and STOP too, as
// Slurm does: stopping a job for good is cancel's work (it also ends the
// job's record), a KILL only ends the processes it reaches.
func ParseSignal(s string) (int, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return 0, invalidf("no signal (want a name such as USR1 or a number such as 10)")
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 || n > MaxSignal {
			return 0, invalidf("signal %d: want a number 1..%d", n, MaxSignal)
		}
		return n, nil
	}
	name := strings.TrimPrefix(strings.ToUpper(v), "SIG")
	for n, known := range signalNames {
		if known != "" && known == name {
			return n, nil
		}
	}
	return 0, invalidf("signal %q: not a signal name (USR1, TERM, ...) or number", s)
}

// SignalName is signal n's name without SIG ("USR1"), or its number for
// the real-time ones ("40").
func SignalName(n int) string {
	if n > 0 && n < len(signalNames) {
		return signalNames[n]
	}
	return strconv.Itoa(n)
}

// JobSignal is one signal request kept on a job (Job.Signals).
type JobSignal struct {
	// Seq numbers the job's requests 1, 2, 3...: flotilla-init delivers
	// each once, remembering the last it delivered.
	Seq    int         `json:"seq"`
	Signal int         `json:"signal"`
	Scope  SignalScope `json:"scope"`
	By     string      `json:"by,omitempty"` // who asked
	Time   time.Time   `json:"time"`
}

// String is the request as the job's events show it: "signal USR1 sent
// by alice" (", main process only" for SignalBatch).
func (s *JobSignal) String() string {
	out := "signal " + SignalName(s.Signal) + " sent"
	if s.By != "" {
		out += " by " + s.By
	}
	if s.Scope == SignalBatch {
		out += " (main process only)"
	}
	return out
}

// SignalRequest is the body of POST /v1/jobs/{id}/signal.
type SignalRequest struct {
	Signal string      `json:"signal"`          // a name or number, see ParseSignal
	Scope  SignalScope `json:"scope,omitempty"` // "all" (default) or "batch"
}

// JobSignalSend records a signal request on a running job (raft command
// JobSignal): the job's next sequence number is the last one's plus one.
type JobSignalSend struct {
	ID     string      `json:"id"`
	Signal int         `json:"signal"`
	Scope  SignalScope `json:"scope"`
	By     string      `json:"by,omitempty"`
	Time   time.Time   `json:"time"`
}

// Validate checks the fields a writer must supply.
func (c *JobSignalSend) Validate() error {
	switch {
	case c.Time.IsZero():
		return invalidf("signal to job %q: no time", c.ID)
	case c.Signal < 1 || c.Signal > MaxSignal:
		return invalidf("signal to job %q: signal %d, want 1..%d", c.ID, c.Signal, MaxSignal)
	case !c.Scope.Valid():
		return invalidf("signal to job %q: scope %q, want all or batch", c.ID, c.Scope)
	}
	return nil
}

// WithSignal returns j's requests with c appended as the next one, the
// oldest dropped beyond MaxJobSignals. It is the one rule of the list,
// pure: the FSM applies it.
func WithSignal(list []JobSignal, c *JobSignalSend) []JobSignal {
	seq := 1
	if len(list) > 0 {
		seq = list[len(list)-1].Seq + 1
	}
	keep := list
	if len(keep) >= MaxJobSignals {
		keep = keep[len(keep)-MaxJobSignals+1:]
	}
	out := make([]JobSignal, 0, len(keep)+1)
	out = append(out, keep...)
	return append(out, JobSignal{Seq: seq, Signal: c.Signal, Scope: c.Scope, By: c.By, Time: c.Time.UTC()})
}

// FormatSignals is the text of a job's requests as its pods' annotation
// carries them to flotilla-init: one line per request, "SEQ SIGNAL
// SCOPE" ("3 10 batch"), oldest first; "" for none.
func FormatSignals(list []JobSignal) string {
	var b strings.Builder
	for _, s := range list {
		b.WriteString(strconv.Itoa(s.Seq))
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(s.Signal))
		b.WriteByte(' ')
		b.WriteString(string(s.Scope))
		b.WriteByte('\n')
	}
	return b.String()
}

// Signal numbers the suspended substatus reads (Linux's).
const (
	sigCONT = 18
	sigSTOP = 19
	sigTSTP = 20
)

// Suspended reports whether a running job's processes were last asked to
// stop rather than to go on: of its recorded requests (Job.Signals, the
// last MaxJobSignals), the latest TSTP, STOP or CONT is a TSTP or a STOP.
// It is JARVICE's "Suspended by user" substatus, which /jarvice/signal's
// default SIGTSTP sets and SIGCONT clears, derived from what every
// replica stores: no flag of its own. A job not RUNNING is never
// suspended.
func (j *Job) Suspended() bool {
	if j.State != JobRunning {
		return false
	}
	for i := len(j.Signals) - 1; i >= 0; i-- {
		switch j.Signals[i].Signal {
		case sigTSTP, sigSTOP:
			return true
		case sigCONT:
			return false
		}
	}
	return false
}
