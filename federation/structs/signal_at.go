package structs

import (
	"errors"
	"maps"
	"strconv"
	"strings"
	"time"
)

// A signal some time before the walltime ends, asked for at submission
// (Slurm's sbatch --signal=[{R|B}:]SIG[@TIME], the v1 submission's
// "signal", JARVICE's flotilla_signal): flotilla-init sends SIG to the
// job's processes TIME seconds (default 60) before the job's walltime
// ends, once (docs/cli.md, "A signal before the walltime ends").
//
// The hub carries it as the variable JobSignalAtVar of the job's own
// environment (Job.Env), as the array CPU binding travels
// (array_cpubind.go): every hub replica stores Job.Env as it is, so
// replicas from before this option store the same job as upgraded ones,
// and no new submission field or raft command is needed. The value is the
// request in its canonical form ("B:USR1@120", "USR1@60"); a user setting
// the variable with --env asks the same, checked the same. flotilla-init
// reads it from its environment.
const (
	// JobSignalAtVar is the job variable that carries the request.
	JobSignalAtVar = "JOB_SIGNAL_AT"
	// DefaultSignalBefore is TIME when the request names none (Slurm's).
	DefaultSignalBefore = 60 * time.Second
	// MaxSignalBefore bounds TIME (Slurm's: 65535 s).
	MaxSignalBefore = 65535 * time.Second
)

// SignalAt is a parsed request for a signal before the walltime ends.
type SignalAt struct {
	Signal int
	// Scope is SignalBatch for Slurm's "B:" (the batch shell: the job's
	// main process on the head), else SignalAll (every process of the
	// job on every node, as flotilla signal sends it).
	Scope SignalScope
	// Before is how long before the walltime's end the signal goes:
	// whole seconds, 1..MaxSignalBefore.
	Before time.Duration
}

// ParseSignalAt reads Slurm's --signal value: [{R|B}:]SIG[@TIME]. SIG is
// a name with or without SIG or a number (ParseSignal); TIME whole
// seconds, 1..65535, default 60. "B:" asks for the batch shell only
// (SignalBatch); "R:", Slurm's leave to overlap a reservation, is
// accepted and means nothing here (Flotilla has no reservations). Both
// flags may be given ("RB:"), in either case.
func ParseSignalAt(s string) (SignalAt, error) {
	v := strings.TrimSpace(s)
	out := SignalAt{Scope: SignalAll, Before: DefaultSignalBefore}
	if v == "" {
		return out, invalidf("signal: empty (want [B:]SIG[@TIME], e.g. B:USR1@120)")
	}
	if i := strings.IndexByte(v, ':'); i >= 0 {
		flags := v[:i]
		if flags == "" {
			return out, invalidf("signal %q: nothing before ':' (want R: or B:)", s)
		}
		var seenR, seenB bool
		for _, c := range strings.ToUpper(flags) {
			switch {
			case c == 'R' && !seenR:
				seenR = true
			case c == 'B' && !seenB:
				seenB = true
			default:
				return out, invalidf("signal %q: %q before ':' (want R: or B:)", s, flags)
			}
		}
		if seenB {
			out.Scope = SignalBatch
		}
		v = v[i+1:]
	}
	sig, at, hasAt := strings.Cut(v, "@")
	n, err := ParseSignal(sig)
	if err != nil {
		if strings.TrimSpace(sig) == strings.TrimSpace(s) {
			return out, err // it names the signal already
		}
		return out, invalidf("signal %q: %s", s, errorMsg(err))
	}
	out.Signal = n
	if hasAt {
		secs, err := strconv.Atoi(strings.TrimSpace(at))
		switch {
		case err != nil:
			return out, invalidf("signal %q: TIME %q: want whole seconds before the walltime ends", s, at)
		case secs <= 0:
			return out, invalidf("signal %q: TIME %d: want at least 1 second before the walltime ends", s, secs)
		case secs > int(MaxSignalBefore/time.Second):
			return out, invalidf("signal %q: TIME %d: at most %d seconds", s, secs, int(MaxSignalBefore/time.Second))
		}
		out.Before = time.Duration(secs) * time.Second
	}
	return out, nil
}

// String is the request in its canonical form: "B:USR1@120", "USR1@60".
func (a SignalAt) String() string {
	out := SignalName(a.Signal) + "@" + strconv.FormatInt(int64(a.Before/time.Second), 10)
	if a.Scope == SignalBatch {
		out = "B:" + out
	}
	return out
}

// Describe is the request in words, as status shows it: "USR1 60 s
// before the walltime ends (main process)".
func (a SignalAt) Describe() string {
	out := SignalName(a.Signal) + " " + strconv.FormatInt(int64(a.Before/time.Second), 10) + " s before the walltime ends"
	if a.Scope == SignalBatch {
		out += " (main process)"
	}
	return out
}

// Due is when the signal goes: Before before the end of the walltime
// counted from start. It is the one rule of the timing, pure: flotilla-init
// and the hub's views of the job share it.
func (a SignalAt) Due(start time.Time, walltime time.Duration) time.Time {
	return start.Add(walltime - a.Before)
}

// checkSignalAt checks a submission's request: a form that reads, a
// walltime it fits in, and the same request as the job variable when
// both are set. A request in the variable alone is checked alike.
func (r *JobSubmitRequest) checkSignalAt() error {
	field, text := "signal", r.Signal
	v, inEnv := r.Env[JobSignalAtVar]
	if text == "" {
		if !inEnv {
			return nil
		}
		field, text = "env", v
	}
	bad := func(msg string) error {
		if field == "env" {
			msg = JobSignalAtVar + ": " + msg
		}
		return &FieldError{Object: "job", Field: field, Msg: msg}
	}
	a, err := ParseSignalAt(text)
	if err != nil {
		return bad(errorMsg(err))
	}
	switch w := time.Duration(r.Walltime); {
	case w <= 0:
		return bad("needs a walltime (the signal goes TIME seconds before it ends)")
	case a.Before >= w:
		return bad("TIME " + strconv.FormatInt(int64(a.Before/time.Second), 10) + " s is not shorter than the walltime " + r.Walltime.String())
	}
	if field == "signal" && inEnv {
		if b, err := ParseSignalAt(v); err != nil || b != a {
			return bad("differs from the variable " + JobSignalAtVar + " in env")
		}
	}
	return nil
}

// JobEnv is the job's own environment as stored: Env, with the array's
// CPU binding as ArrayTaskCPUBindVar and the signal before the walltime
// as JobSignalAtVar (canonical) when they are asked for. Env is not
// changed. Call it on a request Validate accepted.
func (r *JobSubmitRequest) JobEnv() map[string]string {
	env, cloned := r.Env, false
	set := func(k, v string) {
		if cur, ok := env[k]; ok && cur == v {
			return
		}
		if !cloned {
			env, cloned = maps.Clone(r.Env), true
			if env == nil {
				env = make(map[string]string, 2)
			}
		}
		env[k] = v
	}
	if r.TaskCPUBind != "" {
		set(ArrayTaskCPUBindVar, r.TaskCPUBind)
	}
	if r.Signal != "" {
		if a, err := ParseSignalAt(r.Signal); err == nil {
			set(JobSignalAtVar, a.String())
		}
	}
	return env
}

// errorMsg is an *Error's message without its kind, else err's text.
func errorMsg(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return err.Error()
}

// SignalAt is the job's request for a signal before the walltime ends
// (its variable JobSignalAtVar), and whether it has one that reads.
func (j *Job) SignalAt() (SignalAt, bool) {
	v, ok := j.Env[JobSignalAtVar]
	if !ok {
		return SignalAt{}, false
	}
	a, err := ParseSignalAt(v)
	return a, err == nil
}

// SignalAtText is the job's signal before the walltime ends in words
// (SignalAt.Describe), "" when it has none: for pages.
func (j *Job) SignalAtText() string {
	if a, ok := j.SignalAt(); ok {
		return a.Describe()
	}
	return ""
}
