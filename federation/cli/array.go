package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// arrayFlags are submit's array job flags; warnings are what apply
// found worth saying on stderr (cpubind.go).
type arrayFlags struct {
	spec, walltime string
	retries        int
	bind           taskCPUBind
	warnings       []string
}

func (a *arrayFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.spec, "array", "", "array job: task indices as Slurm's --array writes them, START-END[:STEP] ranges and single indices, comma-separated, then %MAX-RUNNING; e.g. 1-10000%64 or 1,3,7-9:2%4")
	fs.IntVar(&a.retries, "task-retries", 0, "array job: attempts after a task's first failure")
	fs.StringVar(&a.walltime, "task-walltime", "", "array job: walltime of each task attempt, e.g. 10m or 05:00 (the forms of --walltime)")
	fs.Var(bindFlag{b: &a.bind}, "task-cpu-bind", "array job's CPU binding, `none|slots`: slots, each slot of a node runs its tasks on CPUs of its own; none (the default), on every CPU of the pod")
}

// apply puts the flags into req.
func (a *arrayFlags) apply(req *structs.JobSubmitRequest) error {
	if a.spec != "" {
		spec, err := structs.ParseArraySpec(a.spec)
		if err != nil {
			var fe *structs.FieldError
			if errors.As(err, &fe) {
				return usagef("submit: --array %s", fe.Msg)
			}
			return usagef("submit: --array: %v", err)
		}
		req.Array = &spec
	}
	wt, err := parseWalltime(a.walltime)
	if err != nil {
		return usagef("submit: --task-walltime %v", err)
	}
	bind, warnings, err := a.bind.resolve(req.Array != nil)
	if err != nil {
		return usagef("submit: %v", err)
	}
	req.TaskRetries, req.TaskWalltime, req.TaskCPUBind, a.warnings = a.retries, wt, bind, warnings
	return nil
}

// arrayFields are status's lines of an array job.
func arrayFields(j *structs.Job, tty bool) [][2]string {
	a := j.Array
	if a == nil {
		return nil
	}
	spec := a.Spec.String() + " (" + strconv.Itoa(a.Spec.Count()) + " tasks"
	if a.TaskRetries > 0 {
		spec += ", " + strconv.Itoa(a.TaskRetries) + " retries each"
	}
	if a.TaskWalltime > 0 {
		spec += ", " + a.TaskWalltime.String() + " per task"
	}
	if b := j.TaskCPUBind(); b != "" {
		spec += ", CPU binding " + b
	}
	spec += ")"
	out := [][2]string{{"Array", spec}}
	p := a.Progress
	if p == nil {
		return append(out, [2]string{"Tasks", "not started"})
	}
	out = append(out, [2]string{"Tasks", taskCounts(p)})
	if a.CancelTasks != "" {
		out = append(out, [2]string{"Canceled tasks", a.CancelTasks})
	}
	out = append(out, [2]string{"Progress", progressBar(p, 30, tty)})
	out = append(out, [2]string{"Task usage", fmt.Sprintf("%.1f node-seconds (%.1f slot-seconds); %d nodes taking tasks, peak %d running",
		p.NodeSeconds, p.SlotSeconds, p.Nodes, p.PeakRunning)})
	return out
}

// taskCounts is an array's tasks counted by state.
func taskCounts(p *structs.ArrayProgress) string {
	counts := fmt.Sprintf("%d pending, %d running, %d succeeded, %d failed, %d canceled, %d retried",
		p.Pending, p.Running, p.Succeeded, p.Failed, p.Canceled, p.Retried)
	if p.Lost > 0 {
		counts += fmt.Sprintf(", %d lost with a worker and run again", p.Lost)
	}
	return counts
}

// tasksHeader is the line above flotilla tasks' table: the array's spec
// as --array takes it (canonical, %MAX included), its number of tasks
// and their counts.
func tasksHeader(a *structs.ArrayJob) string {
	h := "Array " + a.Spec.String() + " (" + strconv.Itoa(a.Spec.Count()) + " tasks): "
	if a.Progress == nil {
		return h + "not started"
	}
	return h + taskCounts(a.Progress)
}

// progressBar draws the share of final tasks: a bar on a terminal, the
// percentage alone otherwise (logs, pipes).
func progressBar(p *structs.ArrayProgress, width int, tty bool) string {
	if p.Total <= 0 {
		return "0%"
	}
	final := p.Succeeded + p.Failed + p.Canceled
	pct := fmt.Sprintf("%d/%d (%d%%)", final, p.Total, final*100/p.Total)
	if !tty {
		return pct
	}
	full := final * width / p.Total
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", width-full) + "] " + pct
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// runTasks lists an array job's tasks: flotilla tasks JOB [--state S].
func runTasks(ctx context.Context, s *session, path, args []string) error {
	var state string
	var limit int
	var out outputFlags
	cl, j, err := oneJob(ctx, s, path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&state, "state", "", "only tasks in this state: pending, running, succeeded, failed or canceled")
		fs.IntVar(&limit, "limit", 0, "at most this many tasks (default the hub's, 1000)")
		out.register(fs)
	})
	if err != nil {
		return err
	}
	if out.task >= 0 {
		return taskOutput(ctx, s, cl, j, out)
	}
	if state != "" && !structs.TaskState(state).Valid() {
		return usagef("tasks: --state %q: want pending, running, succeeded, failed or canceled", state)
	}
	l, err := cl.JobTasks(ctx, j.ID, structs.TaskState(state), limit)
	if err != nil {
		return err
	}
	return s.show(l, func() error {
		if j.Array != nil {
			if _, err := fmt.Fprintln(s.stdout, tasksHeader(j.Array)); err != nil {
				return err
			}
		}
		rows := make([][]string, 0, len(l.Tasks))
		for _, t := range l.Tasks {
			rows = append(rows, taskRow(t))
		}
		if err := s.table([]string{"TASK", "STATE", "EXIT", "ATTEMPTS", "OUTPUT TAIL"}, rows); err != nil {
			return err
		}
		if l.Truncated {
			_, err := fmt.Fprintln(s.stderr, "(more tasks than listed)")
			return err
		}
		return nil
	})
}

// checkTaskList checks --tasks before anything is sent: indices as
// --array takes them, without %MAX (structs.ParseTaskList, the hub's
// own parser).
func checkTaskList(tasks string) error {
	if tasks == "" {
		return errors.New(`"": want indices as --array takes them, e.g. 17,42,100-200:2`)
	}
	if _, err := structs.ParseTaskList(tasks); err != nil {
		var fe *structs.FieldError
		if errors.As(err, &fe) {
			return errors.New(fe.Msg)
		}
		return err
	}
	return nil
}

// cancelTasks cancels tasks of array job j ("flotilla cancel JOB --tasks
// 17,42,100-200:2"). A job that is not an array, or indices that are not
// its array's, are refused before anything is sent (the hub's own
// checks: structs.NotInArray).
func cancelTasks(ctx context.Context, s *session, cl *client.Client, j *structs.Job, tasks string) error {
	if j.Array == nil {
		return usagef("cancel --tasks: job %s (number %d) is not an array job: it has no tasks", j.Name, j.Number)
	}
	sel, err := structs.ParseTaskList(tasks)
	if err == nil {
		err = structs.NotInArray(structs.ErrInvalid, j, sel)
	}
	if err != nil {
		var se *structs.Error
		if errors.As(err, &se) {
			err = errors.New(se.Msg)
		}
		return usagef("cancel --tasks %s: %v", tasks, err)
	}
	j, err = cl.CancelTasks(ctx, j.ID, tasks)
	if err != nil {
		return err
	}
	return s.show(j, func() error {
		_, err := fmt.Fprintf(s.stdout, "Job %s (number %d): tasks %s canceled (running ones are killed; all canceled: %s)\n",
			j.Name, j.Number, tasks, j.Array.CancelTasks)
		return err
	})
}

// taskRow is one row of the tasks table. The exit code is shown for a
// failed task and for a canceled one that had run (it was killed); a task
// canceled before it started has none, rather than a misleading 0.
func taskRow(t structs.TaskResult) []string {
	exit, attempts := "", ""
	if t.State == structs.TaskFailed || (t.State == structs.TaskCanceled && t.Attempts > 0) {
		exit = strconv.Itoa(t.ExitCode)
	}
	if t.Attempts > 0 {
		attempts = strconv.Itoa(t.Attempts)
	}
	return []string{strconv.Itoa(t.Index), string(t.State), exit, attempts, strings.ReplaceAll(strings.TrimSpace(t.Tail), "\n", " | ")}
}
