package cli

import (
	"context"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSubmitSignalAt walks sbatch's --signal through the CLI against a
// real one-replica hub: submit --signal and #SBATCH --signal= carry it
// (canonical, as the job variable), status shows it; a bad value, one
// without a walltime or not shorter than it exits 2 naming the flag (or
// the script's line) and sends nothing.
func TestSubmitSignalAt(t *testing.T) {
	u := newUserHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cli := func(args ...string) result { t.Helper(); return runCLI(t, u.env, args...) }

	cli("submit", "--app", "solver", "-p", "n1", "-t", "1:00:00", "--signal", "B:SIGUSR1@120").check(t, ExitOK, "(number 1)")
	cli("status", "1").check(t, ExitOK, "Signal:", "USR1 120 s before the walltime ends (main process)")
	script := writeFile(t, "ckpt.sh", "#!/bin/sh\n#SBATCH -p n1\n#SBATCH --time=10:00\n#SBATCH --signal=R:usr2@30\n./solver --checkpoint-on USR2\n")
	cli("sbatch", "--image", "debian:stable", script).check(t, ExitOK, "Submitted batch job 2\n")
	for n, want := range map[string]string{"1": "B:USR1@120", "2": "USR2@30"} {
		j, err := findJob(ctx, u.adm, n)
		if err != nil {
			t.Fatal(err)
		}
		if j.Env[structs.JobSignalAtVar] != want {
			t.Errorf("job %s carries %q, want %q", n, j.Env[structs.JobSignalAtVar], want)
		}
	}

	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"no walltime":     {[]string{"submit", "--app", "solver", "-p", "n1", "--signal", "USR1@10"}, "--signal needs a walltime"},
		"TIME too long":   {[]string{"submit", "--app", "solver", "-p", "n1", "-t", "1", "--signal", "USR1@60"}, "--signal TIME 60 s is not shorter than the walltime"},
		"bad signal":      {[]string{"submit", "--app", "solver", "-p", "n1", "-t", "1:00:00", "--signal", "USR9"}, "not a signal name"},
		"TIME zero":       {[]string{"submit", "--app", "solver", "-p", "n1", "-t", "1:00:00", "--signal", "USR1@0"}, "at least 1 second"},
		"a directive":     {[]string{"sbatch", "--image", "i:1", writeFile(t, "bad.sh", "#!/bin/sh\n#SBATCH -p n1 -t 5\n#SBATCH --signal=Q:USR1\ntrue\n")}, "bad.sh:3"},
		"directive, long": {[]string{"sbatch", "--image", "i:1", writeFile(t, "long.sh", "#!/bin/sh\n#SBATCH -p n1 -t 1\n#SBATCH --signal=USR1@90\ntrue\n")}, "not shorter than the walltime"},
	} {
		t.Run(name, func(t *testing.T) { runCLI(t, u.env, c.args...).check(t, ExitUsage, c.want) })
	}
	cli("status", "3").check(t, ExitNotFound)
}

// TestStatusSuspendedAndSignalAt: status's state and signal lines.
func TestStatusSuspendedAndSignalAt(t *testing.T) {
	start := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	j := &structs.Job{State: structs.JobRunning, Walltime: structs.Duration(time.Hour), StartTime: start,
		Env:     map[string]string{structs.JobSignalAtVar: "USR1@120"},
		Signals: []structs.JobSignal{{Seq: 1, Signal: 20, Scope: structs.SignalAll}}}
	if got := stateField(j); got != "RUNNING (suspended)" {
		t.Errorf("state %q", got)
	}
	if got, want := signalAtField(j), "USR1 120 s before the walltime ends, due about 2026-12-06T21:58:00Z"; got != want {
		t.Errorf("signal %q, want %q", got, want)
	}
	j.Signals = append(j.Signals, structs.JobSignal{Seq: 2, Signal: 18, Scope: structs.SignalAll})
	j.State, j.EndTime = structs.JobCompleted, start.Add(time.Minute)
	if got := stateField(j); got != "COMPLETED" {
		t.Errorf("state %q", got)
	}
	if got := signalAtField(j); got != "USR1 120 s before the walltime ends" {
		t.Errorf("signal of an ended job %q", got)
	}
	if got := signalAtField(&structs.Job{}); got != "" {
		t.Errorf("signal of a job without one %q", got)
	}
}
