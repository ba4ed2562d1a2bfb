package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// stopFunc cancels or terminates one job through the client.
type stopFunc = func(*client.Client, context.Context, string, string) (*structs.Job, error)

func runCancel(ctx context.Context, s *session, path, args []string) error {
	return stopJobs(ctx, s, path, args, (*client.Client).CancelJob, true)
}

func runTerminate(ctx context.Context, s *session, path, args []string) error {
	return stopJobs(ctx, s, path, args, (*client.Client).TerminateJob, false)
}

// stopJobs is cancel and terminate: of the jobs named (scancel JOB...), or
// of the active jobs the filter flags select (scancel -u, -t), or of an
// array job's tasks (--tasks). Each job is stopped in turn; one that
// cannot be is reported and the others still are, and the exit code is
// that of the first failure. -o json prints the job when one was named,
// else the list of jobs stopped.
func stopJobs(ctx context.Context, s *session, path, args []string, stop stopFunc, withTasks bool) error {
	cmd := path[len(path)-1]
	fs := s.flagSet(cmd)
	var reason, tasks string
	var f jobFilter
	var sig signalFlags
	fs.StringVar(&reason, "reason", "", "why (recorded in the job)")
	if withTasks { // cancel: scancel's --signal sends a signal instead of cancelling
		sig.register(fs, "", "send this signal to the running job instead of cancelling it (scancel --signal)")
	}
	if withTasks {
		fs.Func("tasks", "cancel only these tasks of an array job: indices as --array takes them (without %MAX), e.g. 17,42,100-200:2", func(v string) error {
			tasks = strings.ReplaceAll(v, " ", "")
			return checkTaskList(tasks)
		})
	}
	f.register(fs)
	refs, err := s.leaf(fs, path, "[JOB...]", 0, -1, args)
	if err != nil {
		return err
	}
	switch {
	case len(refs) == 0 && !f.set():
		return usagef("%s: name a JOB (or several), or select jobs with --state, --owner, --tenant or --cluster", cmd)
	case len(refs) > 0 && f.set():
		return usagef("%s: name jobs or select them with filters, not both", cmd)
	case tasks != "" && len(refs) != 1:
		return usagef("%s: --tasks needs exactly one JOB", cmd)
	case sig.signal != "" && (len(refs) != 1 || tasks != ""):
		return usagef("%s: --signal needs exactly one JOB (and no --tasks)", cmd)
	case sig.signal == "" && (sig.batch || sig.full):
		return usagef("%s: --batch and --full go with --signal", cmd)
	}
	scope := structs.SignalAll
	if sig.signal != "" {
		if scope, err = sig.check(cmd); err != nil {
			return err
		}
	}
	if f.state != "" {
		if _, err := parseStates(f.state); err != nil {
			return usagef("%s: --state %v", cmd, err)
		}
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	if sig.signal != "" {
		return signalJob(ctx, s, cl, refs[0], sig.signal, scope)
	}
	if len(refs) == 1 {
		j, err := findJob(ctx, cl, refs[0])
		if err != nil {
			return err
		}
		if tasks != "" {
			return cancelTasks(ctx, s, cl, j, tasks)
		}
		if j, err = stop(cl, ctx, j.ID, reason); err != nil {
			return err
		}
		return s.show(j, func() error { return s.stopped(j) })
	}
	var targets []*structs.Job
	var firstErr error
	// fail reports one job's failure; about names the job when the
	// error does not.
	fail := func(about string, err error) {
		var ae *client.APIError
		msg := err.Error()
		if errors.As(err, &ae) {
			msg = fmt.Sprintf("%s (HTTP %d)", ae.Message, ae.Status)
		}
		if about != "" {
			msg = "job " + about + ": " + msg
		}
		fmt.Fprintf(s.stderr, "flotilla: %s: %s\n", cmd, msg)
		if firstErr == nil {
			firstErr = &reportedError{err}
		}
	}
	if len(refs) > 0 {
		for _, ref := range refs {
			j, err := findJob(ctx, cl, ref)
			if err != nil {
				fail("", err) // it names the job
				continue
			}
			targets = append(targets, j)
		}
	} else if targets, err = f.list(ctx, cl, cmd, false); err != nil {
		return err
	}
	done := []*structs.Job{}
	for _, j := range targets {
		if j.State.IsTerminal() && len(refs) == 0 {
			continue // a state filter named finished jobs: nothing to stop
		}
		got, err := stop(cl, ctx, j.ID, reason)
		if err != nil {
			fail(j.Name, err)
			continue
		}
		done = append(done, got)
		if !s.json() {
			if err := s.stopped(got); err != nil {
				return err
			}
		}
	}
	if s.json() {
		if err := s.printJSON(done); err != nil {
			return err
		}
	} else if len(targets) == 0 && firstErr == nil {
		if err := s.line("No jobs matched."); err != nil {
			return err
		}
	}
	return firstErr
}

// stopped prints the state a job was left in.
func (s *session) stopped(j *structs.Job) error {
	return s.line("Job %s (number %d): %s", j.Name, j.Number, j.State)
}

// reportedError is an error already printed: finish only takes its exit
// code.
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Unwrap() error { return e.err }
