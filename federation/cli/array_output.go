package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// outputFlags are the flags of "flotilla tasks JOB --output N".
type outputFlags struct {
	task int
	wait time.Duration
}

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&o.task, "output", -1, "print this task's exit code, attempt and output tail (asked of the job's head while it runs)")
	fs.DurationVar(&o.wait, "wait", time.Minute, "with --output: how long to wait for the job's head to answer")
}

// errNoAnswer: the head did not answer within --wait.
var errNoAnswer = errors.New("no answer from the job's head")

// taskOutput prints one task's output: a header line (task, state, exit
// code, attempt), then the tail as it is. While the head has not
// answered it asks again, until --wait has passed.
func taskOutput(ctx context.Context, s *session, cl *client.Client, j *structs.Job, f outputFlags) error {
	if j.Array == nil {
		return fmt.Errorf("job %s (number %d) is not an array job: it has no tasks", j.Name, j.Number)
	}
	if err := structs.TaskNotInArray(structs.ErrNotFound, j, f.task); err != nil {
		return err // as the hub's 404, before anything is sent
	}
	if f.wait <= 0 {
		return usagef("tasks: --wait %s: want a positive duration", f.wait)
	}
	wctx, cancel := context.WithTimeout(ctx, f.wait)
	defer cancel()
	msg := "the job's head has not answered"
	for {
		out, m, err := cl.TaskOutput(wctx, j.ID, f.task, min(f.wait, 10*time.Second))
		switch {
		case wctx.Err() != nil && ctx.Err() == nil:
			return fmt.Errorf("task %d of job %s: %w within %s (%s; the request stands: ask again)", f.task, j.Name, errNoAnswer, f.wait, msg)
		case err != nil:
			return err
		case out != nil:
			return s.show(out, func() error { return printTaskOutput(s, out) })
		}
		msg = m
	}
}

// printTaskOutput writes the header line and the tail.
func printTaskOutput(s *session, o *structs.TaskOutput) error {
	head := fmt.Sprintf("== task %d: %s", o.Index, o.State)
	if o.State == structs.TaskCanceled && o.Attempts == 0 {
		// Canceled before it started: it has no exit code and no output.
		_, err := fmt.Fprintln(s.stdout, head+" before it started ==")
		return err
	}
	if o.State != structs.TaskPending && o.State != structs.TaskRunning || o.Attempts > 1 {
		head += fmt.Sprintf(", exit code %d", o.ExitCode)
	}
	if o.Attempts > 0 {
		head += fmt.Sprintf(", attempt %d", o.Attempts)
	}
	if !o.Time.IsZero() {
		head += ", taken " + o.Time.UTC().Format(time.RFC3339)
	}
	if _, err := fmt.Fprintln(s.stdout, head+" =="); err != nil {
		return err
	}
	if o.NotKept {
		fmt.Fprintln(s.stderr, "(the output of this task is no longer kept: the job's head holds the latest outputs within a memory budget, and after the job ended only what the hub fetched before)")
	}
	if o.Tail == "" {
		return nil
	}
	tail := o.Tail
	if !strings.HasSuffix(tail, "\n") {
		tail += "\n"
	}
	_, err := fmt.Fprint(s.stdout, tail)
	return err
}
