package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/accounting"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// submitFlags names the flag of each field of a submission.
var submitFlags = map[string]string{"app": "app", "machine_type": "machine", "nodes": "nodes",
	"walltime": "walltime", "priority": "priority", "array": "array", "task_retries": "task-retries",
	"task_walltime": "task-walltime", "task_cpu_bind": "task-cpu-bind", "dependency": "dependency", "env": "env", "workdir": "chdir", "signal": "signal"}

func runSubmit(ctx context.Context, s *session, path, args []string) error {
	fs := s.flagSet("submit")
	var o jobFlags
	var params kvFlag
	o.register(fs)
	fs.StringVar(&o.req.App, "app", "", "app name (required)")
	fs.StringVar(&o.req.Command, "command", "", "AppDef command (default: the app's only command)")
	fs.Var(&params, "param", "command parameter `key=value` (repeatable)")
	jobsFile := fs.String("jobs", "", "submit many jobs: one v1 submission (JSON) per line of this file, - for stdin; no other job flags")
	if err := slurmFlagHint(fs, args); err != nil {
		return err
	}
	pos, err := s.leaf(fs, path, "", 0, -1, args)
	if err != nil {
		return err
	}
	if *jobsFile != "" {
		return runSubmitJobs(ctx, s, fs, *jobsFile, pos)
	}
	if len(pos) > 0 {
		return usagef("%sunexpected argument %q", where(path), pos[0])
	}
	o.req.Parameters = params.m
	if err := o.apply(s.getenv); err != nil {
		return err
	}
	if err := o.req.Validate(); err != nil { // the hub's own check, before sending
		var fe *structs.FieldError
		if errors.As(err, &fe) && submitFlags[fe.Field] != "" {
			return usagef("submit: --%s %s", submitFlags[fe.Field], fe.Msg)
		}
		return usagef("submit: %v", err)
	}
	return s.submitAndShow(ctx, o, func(j *structs.Job) error {
		_, err := fmt.Fprintf(s.stdout, "Submitted job %s (number %d), state %s\n", j.Name, j.Number, j.State)
		return err
	})
}

// findJob resolves a job reference: its id, its number, or its name
// (owner-date-number).
func findJob(ctx context.Context, cl *client.Client, ref string) (*structs.Job, error) {
	if ref == "" {
		return nil, usagef("empty job reference")
	}
	if n, err := strconv.ParseUint(ref, 10, 64); err == nil && n > 0 {
		return jobByNumber(ctx, cl, ref, n, "")
	}
	if i := strings.LastIndexByte(ref, '-'); i > 0 && !strings.HasPrefix(ref, "j-") {
		if n, err := strconv.ParseUint(ref[i+1:], 10, 64); err == nil && n > 0 {
			return jobByNumber(ctx, cl, ref, n, ref)
		}
	}
	return cl.GetJob(ctx, ref, true)
}

// jobByNumber finds job number n (named name, if set) among the jobs the
// caller may see.
func jobByNumber(ctx context.Context, cl *client.Client, ref string, n uint64, name string) (*structs.Job, error) {
	page, err := cl.ListJobs(ctx, client.JobQuery{After: n - 1, Limit: 1, Consistent: true})
	if err != nil {
		return nil, err
	}
	if len(page.Jobs) == 0 || page.Jobs[0].Number != n || (name != "" && page.Jobs[0].Name != name) {
		if name != "" {
			// Perhaps an id that merely ends in digits.
			if j, err := cl.GetJob(ctx, ref, true); err == nil || !errors.Is(err, structs.ErrNotFound) {
				return j, err
			}
		}
		return nil, structs.Errorf(structs.ErrNotFound, "job %q", ref)
	}
	return page.Jobs[0], nil
}

// oneJob parses "COMMAND [flags] JOB" and finds the job.
func oneJob(ctx context.Context, s *session, path, args []string, setup func(*flag.FlagSet)) (*client.Client, *structs.Job, error) {
	fs := s.flagSet(path[len(path)-1])
	if setup != nil {
		setup(fs)
	}
	pos, err := s.leaf(fs, path, "JOB", 1, 1, args)
	if err != nil {
		return nil, nil, err
	}
	cl, err := s.client()
	if err != nil {
		return nil, nil, err
	}
	j, err := findJob(ctx, cl, pos[0])
	return cl, j, err
}

func runStatus(ctx context.Context, s *session, path, args []string) error {
	_, j, err := oneJob(ctx, s, path, args, nil)
	if err != nil {
		return err
	}
	return s.show(j, func() error { return s.fields(append(jobFields(j, s.now()), arrayFields(j, isTerminal(s.stdout))...)) })
}

func jobFields(j *structs.Job, now time.Time) [][2]string {
	mt := j.MachineType
	if j.AssignedMachineType != "" {
		mt += " (runs on " + j.AssignedMachineType + ")"
	}
	app := j.App
	if j.Command != "" {
		app += " / " + j.Command
	}
	owner := j.Owner + " (" + j.Tenant
	if j.Team != "" {
		owner += ", team " + j.Team
	}
	owner += ")"
	exit := ""
	if j.State == structs.JobCompleted || j.State == structs.JobCompletedWithError {
		exit = strconv.Itoa(j.ExitCode)
	}
	var wall string
	if j.Walltime > 0 {
		wall = j.Walltime.String()
	}
	return [][2]string{
		{"Name", j.Name}, {"Number", strconv.FormatUint(j.Number, 10)}, {"ID", j.ID},
		{"Label", j.Label}, {"Project", j.Project}, {"Owner", owner}, {"App", app},
		{"Machine type", mt}, {"Nodes", strconv.Itoa(j.Nodes)}, {"Walltime", wall},
		{"Priority", string(j.Priority)}, {"Vault", j.Vault},
		{"Dependency", j.Dependency.String()}, {"Environment", envNames(j.Env)}, {"Workdir", j.Workdir},
		{"State", stateField(j)}, {"Substatus", j.Substatus}, {"Cluster", j.Cluster},
		{"Burst rule", j.BurstRule}, {"Exit code", exit},
		{"Submitted", stamp(j.SubmitTime)}, {"Assigned", stamp(j.AssignTime)},
		{"Started", stamp(j.StartTime)}, {"Ended", stamp(j.EndTime)},
		{"Elapsed", elapsed(j, now)}, {"Node-hours", nodeHours(j)},
		{"Signal", signalAtField(j)}, {"Signals", signalsField(j.Signals)},
		{"Log tail", strings.TrimSpace(j.LogTail)},
	}
}

// elapsed is a job's run time as sacct shows it ([D-]HH:MM:SS): start to
// end for a finished job, start to now, marked so, for one still
// running; "" for a job that never started.
func elapsed(j *structs.Job, now time.Time) string {
	if !j.State.IsTerminal() {
		if j.StartTime.IsZero() || !j.State.Started() {
			return ""
		}
		return accounting.Elapsed(now.Sub(j.StartTime)) + " so far"
	}
	u := structs.UsageOf(j.Nodes, 0, 0, j.StartTime, j.EndTime, 0)
	if u.Elapsed <= 0 {
		return ""
	}
	return accounting.Elapsed(u.Elapsed)
}

// nodeHours is a finished job's nodes × elapsed hours, what its
// accounting record charges (see flotilla report).
func nodeHours(j *structs.Job) string {
	u := structs.UsageOf(j.Nodes, 0, 0, j.StartTime, j.EndTime, 0)
	if !j.State.IsTerminal() || u.Elapsed <= 0 {
		return ""
	}
	return strconv.FormatFloat(u.NodeHours, 'f', 4, 64) + " (" + strconv.Itoa(j.Nodes) + " × " + accounting.Elapsed(u.Elapsed) + ")"
}

// Why is the -o json reply of "why": a job's state and its explanation.
type Why struct {
	ID                  string           `json:"id"`
	Name                string           `json:"name"`
	Number              uint64           `json:"number"`
	State               structs.JobState `json:"state"`
	Substatus           string           `json:"substatus,omitempty"`
	Explanation         string           `json:"explanation"`
	Cluster             string           `json:"cluster,omitempty"`
	MachineType         string           `json:"machine_type"`
	AssignedMachineType string           `json:"assigned_machine_type,omitempty"`
	BurstRule           string           `json:"burst_rule,omitempty"`
	// QueuePosition and QueueWaiting: a job waiting for placement is
	// QueuePosition-th of QueueWaiting jobs waiting for its machine type
	// (1 is next); absent for other jobs.
	QueuePosition int `json:"queue_position,omitempty"`
	QueueWaiting  int `json:"queue_waiting,omitempty"`
}

func runWhy(ctx context.Context, s *session, path, args []string) error {
	cl, j, err := oneJob(ctx, s, path, args, nil)
	if err != nil {
		return err
	}
	w := Why{ID: j.ID, Name: j.Name, Number: j.Number, State: j.State, Substatus: j.Substatus,
		Explanation: explain(j), Cluster: j.Cluster, MachineType: j.MachineType,
		AssignedMachineType: j.AssignedMachineType, BurstRule: j.BurstRule}
	if j.State == structs.JobQueued || j.State == structs.JobSubmitted {
		q, err := cl.QueuePosition(ctx, j.ID)
		if err != nil {
			return err
		}
		w.QueuePosition, w.QueueWaiting = q.Position, q.Waiting
	}
	return s.show(w, func() error {
		mt := w.MachineType
		if w.AssignedMachineType != "" {
			mt += " (runs on " + w.AssignedMachineType + ")"
		}
		return s.fields([][2]string{
			{"Job", fmt.Sprintf("%s (number %d)", w.Name, w.Number)},
			{"State", string(w.State)}, {"Why", w.Explanation}, {"Queue position", queuePosition(w)}, {"Machine type", mt},
			{"Cluster", dash(w.Cluster)}, {"Burst rule", dash(w.BurstRule)},
		})
	})
}

// queuePosition says where a waiting job stands, "" for other jobs.
func queuePosition(w Why) string {
	if w.QueuePosition == 0 {
		return ""
	}
	mt := w.MachineType
	if w.AssignedMachineType != "" {
		mt = w.AssignedMachineType
	}
	return fmt.Sprintf("%d of %d waiting for %s (1 is next; priority, then submit order)", w.QueuePosition, w.QueueWaiting, mt)
}

// explain says in words why a job is where it is: the hub's recorded
// reason (placement, scheduler or limit) when there is one, else what the
// state means.
func explain(j *structs.Job) string {
	if j.Substatus != "" {
		return j.Substatus
	}
	switch j.State {
	case structs.JobSubmitted:
		return "submitted; waiting for admission"
	case structs.JobHeld:
		return "held by a limit; released when usage drops below it"
	case structs.JobQueued:
		return "queued; waiting for placement on a cluster"
	case structs.JobAssigned:
		return "assigned to cluster " + j.Cluster + "; waiting for its agent to bind the pods"
	case structs.JobStarting:
		return "pods bound; the runtime environment is starting"
	case structs.JobRunning:
		return "running on cluster " + j.Cluster
	case structs.JobCompleted:
		return "completed"
	case structs.JobCompletedWithError:
		return fmt.Sprintf("completed with error (exit code %d)", j.ExitCode)
	case structs.JobCanceled:
		return "canceled before it started"
	case structs.JobTerminated:
		return "terminated"
	}
	return string(j.State)
}

func runWhoAmI(ctx context.Context, s *session, path, args []string) error {
	if _, err := s.leaf(s.flagSet("whoami"), path, "", 0, 0, args); err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	me, err := cl.WhoAmI(ctx)
	if err != nil {
		return err
	}
	return s.show(me, func() error {
		return s.fields([][2]string{{"User", me.Username}, {"Cluster agent", me.Cluster}, {"Tenant", me.Tenant},
			{"Role", string(me.Role)}, {"Teams", strings.Join(me.Teams, ", ")},
			{"Admin of teams", strings.Join(me.AdminTeams, ", ")}, {"Global admin", yes(me.Global)}})
	})
}

// Output is what `output -o json` prints.
type Output struct {
	ID       string           `json:"id"`
	Name     string           `json:"name"`
	Number   uint64           `json:"number"`
	State    structs.JobState `json:"state"`
	ExitCode int              `json:"exit_code"`
	Output   string           `json:"output"`
}

// runOutput prints the job's output: the last lines of the head's log,
// which the agent reports while the job runs and with its final state
// (the same field /jarvice/output serves); --follow keeps printing them.
func runOutput(ctx context.Context, s *session, path, args []string) error {
	var follow bool
	cl, j, err := oneJob(ctx, s, path, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&follow, "follow", false, "keep printing the lines a running job reports (every few seconds) until it ends, as tail -f")
	})
	if err != nil {
		return err
	}
	// A job that ended has nothing more to follow: its output is printed
	// as without --follow (with the note when it has none); -o json keeps
	// --follow's one object a line.
	if follow && (s.json() || !j.State.IsTerminal()) {
		return followOutput(ctx, s, cl, j)
	}
	o := &Output{ID: j.ID, Name: j.Name, Number: j.Number, State: j.State, ExitCode: j.ExitCode, Output: j.LogTail}
	return s.show(o, func() error {
		if j.LogTail == "" {
			if j.State.IsTerminal() {
				fmt.Fprintf(s.stderr, "job %s (number %d) ended %s with no output\n", j.Name, j.Number, j.State)
			} else {
				fmt.Fprintf(s.stderr, "job %s (number %d) is %s: no output reported yet (a running job's last lines are reported every few seconds; --follow waits for them)\n", j.Name, j.Number, j.State)
			}
			return nil
		}
		out := j.LogTail
		if !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		_, err := io.WriteString(s.stdout, out)
		return err
	})
}
