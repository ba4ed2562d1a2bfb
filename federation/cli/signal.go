package cli

import (
	"context"
	"flag"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// signalFlags are the flags of `flotilla signal` and of `cancel --signal`
// (scancel's spelling): the signal and which processes it reaches.
type signalFlags struct {
	signal      string
	batch, full bool
}

// register adds -s/--signal (with def the default signal), --batch and
// --full to fs.
func (f *signalFlags) register(fs *flag.FlagSet, def, what string) {
	f.signal = def
	fs.StringVar(&f.signal, "signal", def, what)
	fs.StringVar(&f.signal, "s", def, "short for --signal")
	fs.BoolVar(&f.batch, "batch", false, "only the job's main process on its head (Slurm's --batch); default every process on every node")
	fs.BoolVar(&f.full, "full", false, "every process of the job on every node (the default; Slurm's --full)")
}

// check validates the flags where the CLI can (the hub checks again) and
// returns the scope they ask for.
func (f *signalFlags) check(cmd string) (structs.SignalScope, error) {
	if f.batch && f.full {
		return "", usagef("%s: --batch and --full exclude each other", cmd)
	}
	if _, err := structs.ParseSignal(f.signal); err != nil {
		return "", usagef("%s: --signal: %v", cmd, err)
	}
	if f.batch {
		return structs.SignalBatch, nil
	}
	return structs.SignalAll, nil
}

// runSignal is `flotilla signal [-s SIG] [--batch] JOB`: the hub records
// the request and the job's pods deliver it (see docs/cli.md, "Signals").
func runSignal(ctx context.Context, s *session, path, args []string) error {
	cmd := path[len(path)-1]
	fs := s.flagSet(cmd)
	var f signalFlags
	f.register(fs, "TERM", "the signal: a name (USR1, SIGUSR1) or number (10); default TERM, as kill(1)")
	refs, err := s.leaf(fs, path, "JOB", 1, 1, args)
	if err != nil {
		return err
	}
	scope, err := f.check(cmd)
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	return signalJob(ctx, s, cl, refs[0], f.signal, scope)
}

// signalJob sends one job the signal and prints what was recorded.
func signalJob(ctx context.Context, s *session, cl *client.Client, ref, signal string, scope structs.SignalScope) error {
	j, err := findJob(ctx, cl, ref)
	if err != nil {
		return err
	}
	if j, err = cl.SignalJob(ctx, j.ID, signal, scope); err != nil {
		return err
	}
	last := j.Signals[len(j.Signals)-1]
	return s.show(j, func() error {
		to := "every process of the job"
		if last.Scope == structs.SignalBatch {
			to = "the job's main process"
		}
		return s.line("Signal %s sent to %s of job %s (number %d): request %d", structs.SignalName(last.Signal), to, j.Name, j.Number, last.Seq)
	})
}

// signalsField is the job's signal requests as `flotilla status` shows
// them, oldest first: "1 USR1 by alice; 2 TERM by bob (main process)".
func signalsField(list []structs.JobSignal) string {
	parts := make([]string, 0, len(list))
	for _, r := range list {
		p := strconv.Itoa(r.Seq) + " " + structs.SignalName(r.Signal)
		if r.By != "" {
			p += " by " + r.By
		}
		if r.Scope == structs.SignalBatch {
			p += " (main process)"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// stateField is the job's state as status shows it: "RUNNING (suspended)"
// for a running job whose processes were last sent TSTP or STOP, not
// CONT (structs.Job.Suspended: JARVICE's "Suspended by user").
func stateField(j *structs.Job) string {
	if j.Suspended() {
		return string(j.State) + " (suspended)"
	}
	return string(j.State)
}

// signalAtField is the job's signal before the walltime ends as status
// shows it: "USR1 60 s before the walltime ends (main process)", and,
// once the job started, about when that is by the hub's start time (the
// pods count the walltime from their own start, a little earlier).
func signalAtField(j *structs.Job) string {
	a, ok := j.SignalAt()
	if !ok {
		return ""
	}
	out := a.Describe()
	if j.Walltime > 0 && !j.StartTime.IsZero() && !j.State.IsTerminal() {
		out += ", due about " + stamp(a.Due(j.StartTime, time.Duration(j.Walltime)))
	}
	return out
}
