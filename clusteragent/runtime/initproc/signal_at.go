package initproc

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// A signal before the walltime ends (sbatch --signal=[B:]SIG[@TIME]; the
// job variable structs.JobSignalAtVar, Config.SignalAt). Every pod's
// flotilla-init sends it, once, TIME before the walltime's end on the
// clock of its node: on the head to the command (B: its main process
// only), on a worker to its SSH sessions' processes (not with B:), in an
// array job to the running tasks, as a signal request of the same scope
// reaches them (signals.go).
//
// The walltime counts from the job's start: the earliest start of its
// pods, which is when the kubelets and the agent count it from, and which
// the agent writes on every running pod (Config.JobStartFile, a
// downward-API file of the annotation flotilla.io/job-start, RFC 3339).
// Until that file has a time, and when the file's time is later,
// flotilla-init's own start (Config.Started) stands in: the pods started
// before it did, so the signal never goes later than the file's time
// would send it. The delivery is recorded in the run directory
// (signalAtStateFile) before the next check, so a flotilla-init that
// restarts does not send it again. It is logged on the job's output as
// "flotilla: signal USR1 delivered (60 s before the walltime)".

// signalAtStateFile, in the run directory, records the delivery.
const signalAtStateFile = "signal-at-delivered"

// timedSignal is one pod's signal before the walltime ends.
type timedSignal struct {
	at        structs.SignalAt
	walltime  time.Duration
	startFile string    // the pods' start, as the agent writes it
	started   time.Time // flotilla-init's own start
	now       func() time.Time
	state     string // signalAtStateFile
	done      bool
}

// newTimedSignal returns cfg's signal before the walltime ends, nil when
// it asks for none (Config.Validate checked the request).
func newTimedSignal(cfg *Config) *timedSignal {
	if cfg.SignalAt == "" || cfg.Walltime <= 0 || cfg.Now == nil {
		return nil
	}
	at, err := structs.ParseSignalAt(cfg.SignalAt)
	if err != nil {
		return nil
	}
	started := cfg.Started
	if started.IsZero() {
		started = cfg.Now()
	}
	return &timedSignal{at: at, walltime: cfg.Walltime, startFile: cfg.JobStartFile, started: started,
		now: cfg.Now, state: filepath.Join(cfg.RunDir, signalAtStateFile)}
}

// signalAtDue is when the signal goes: the walltime counted from the
// earlier of the pods' start (zero when unknown) and flotilla-init's own,
// less the request's TIME. It is pure.
func signalAtDue(at structs.SignalAt, walltime time.Duration, podsStart, started time.Time) time.Time {
	start := started
	if !podsStart.IsZero() && podsStart.Before(start) {
		start = podsStart
	}
	return at.Due(start, walltime)
}

// podsStart reads the pods' start the agent wrote (zero when none yet).
func (t *timedSignal) podsStart() time.Time {
	if t.startFile == "" {
		return time.Time{}
	}
	b, err := os.ReadFile(t.startFile)
	if err != nil {
		return time.Time{}
	}
	at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}
	}
	return at
}

// delivered reports whether this pod sent the signal already (also
// before a restart).
func (t *timedSignal) delivered() bool {
	if !t.done {
		_, err := os.Stat(t.state)
		t.done = err == nil
	}
	return t.done
}

// deliverDue sends the signal before the walltime ends once it is due,
// once.
func (s *signaler) deliverDue() {
	t := s.timed
	if t == nil || t.delivered() {
		return
	}
	if t.now().Before(signalAtDue(t.at, t.walltime, t.podsStart(), t.started)) {
		return
	}
	name := structs.SignalName(t.at.Signal)
	what := strconv.FormatInt(int64(t.at.Before/time.Second), 10) + " s before the walltime"
	if t.at.Scope == structs.SignalBatch && !s.head {
		s.log.Debug("signal before the walltime for the head's main process only", "signal", name)
	} else {
		groups, err := s.send(t.at.Signal, t.at.Scope == structs.SignalBatch)
		s.report(name, what, groups, err)
	}
	if err := writeFileAtomic(t.state, []byte(t.at.String()+"\n")); err != nil {
		s.log.Error("signal before the walltime not recorded: a restart may send it again", "err", err)
	}
	t.done = true
}
