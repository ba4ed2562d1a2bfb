package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jobFlags are the flags of a job's fields that submit and sbatch share,
// and that sbatch reads from a job script's #SBATCH lines too: the one
// table of them.
type jobFlags struct {
	req                structs.JobSubmitRequest
	walltime, priority string
	arr                arrayFlags
	sb                 sbatchFlags
	parsable, wait     bool
}

func (o *jobFlags) register(fs *flag.FlagSet) {
	o.arr.register(fs)
	o.sb.register(fs)
	fs.StringVar(&o.req.MachineType, "machine", "", "machine type (required)")
	fs.StringVar(&o.req.MachineType, "p", "", "the same as --machine (Slurm's -p, --partition)")
	fs.StringVar(&o.req.MachineType, "partition", "", "the same as --machine")
	fs.IntVar(&o.req.Nodes, "nodes", 1, "number of nodes")
	fs.IntVar(&o.req.Nodes, "N", 1, "the same as --nodes (Slurm's -N)")
	fs.StringVar(&o.walltime, "walltime", "", "walltime: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS (as Slurm's --time), 90m or UNLIMITED")
	fs.StringVar(&o.walltime, "time", "", "the same as --walltime (Slurm's -t, --time)")
	fs.StringVar(&o.walltime, "t", "", "the same as --walltime")
	fs.StringVar(&o.req.Vault, "vault", "", "data vault to mount at /data")
	fs.StringVar(&o.priority, "priority", "", "normal, high or highest")
	fs.StringVar(&o.req.Label, "label", "", "job label (jobs and status show it)")
	fs.StringVar(&o.req.Label, "job-name", "", "the same as --label (Slurm's -J, --job-name)")
	fs.StringVar(&o.req.Label, "J", "", "the same as --label")
	fs.StringVar(&o.req.Project, "project", "", "project to account the job to")
	fs.StringVar(&o.req.Team, "team", "", "team to charge the job to")
	fs.StringVar(&o.req.Team, "A", "", "the same as --team (Slurm's -A, --account)")
	fs.StringVar(&o.req.Team, "account", "", "the same as --team")
	fs.BoolVar(&o.parsable, "parsable", false, "print the job's number alone (sbatch --parsable), e.g. A=$(flotilla submit --parsable ...)")
	fs.BoolVar(&o.wait, "wait", false, "wait for the job to end; exit 0 when it COMPLETED, else its exit code (or 1) (sbatch --wait)")
	fs.BoolVar(&o.wait, "W", false, "the same as --wait")
}

// apply checks each flag's own value and puts it into o.req (the whole
// request is checked by its Validate); getenv reads this shell's
// environment for --export KEY.
func (o *jobFlags) apply(getenv func(string) string) error {
	wt, err := parseWalltime(o.walltime)
	if err != nil {
		return usagef("submit: --walltime %v", err)
	}
	o.req.Walltime, o.req.Priority = wt, structs.PriorityClass(o.priority)
	if err := o.arr.apply(&o.req); err != nil {
		return err
	}
	return o.sb.apply(&o.req, getenv)
}

// submitAndShow submits o.req and prints the job (human: by line), or,
// with --wait, waits for its end and exits as sbatch --wait does.
func (s *session) submitAndShow(ctx context.Context, o jobFlags, line func(*structs.Job) error) error {
	cl, err := s.client()
	if err != nil {
		return err
	}
	j, err := cl.SubmitJob(ctx, o.req)
	if err != nil {
		return err
	}
	if !o.wait || !s.json() {
		err := s.show(j, func() error {
			if o.parsable {
				return s.line("%d", j.Number)
			}
			return line(j)
		})
		if err != nil || !o.wait {
			return err
		}
	}
	end, err := waitJob(ctx, s, cl, j)
	if err != nil {
		return err
	}
	if s.json() {
		if err := s.printJSON(end); err != nil {
			return err
		}
	}
	return jobExitOf(end)
}

// waitJob waits for j to end, watching the hub's jobs table (a long poll
// by index, not a tight poll), and returns it as it ended.
func waitJob(ctx context.Context, s *session, cl *client.Client, j *structs.Job) (*structs.Job, error) {
	wait := min(10*time.Second, s.timeout/2)
	var index uint64
	for !j.State.IsTerminal() {
		page, err := cl.WatchJobs(ctx, client.JobQuery{After: j.Number - 1, Limit: 1}, index, wait)
		if err != nil {
			return nil, err
		}
		if len(page.Jobs) == 0 || page.Jobs[0].ID != j.ID {
			return nil, structs.Errorf(structs.ErrGone, "job %s (number %d) is gone", j.Name, j.Number)
		}
		j, index = page.Jobs[0], page.Index
	}
	return j, nil
}

// jobExit is how a command that waited for a job exits: code, with msg
// printed (sbatch --wait: 0 when the job COMPLETED, its exit code when
// it failed with one, else 1).
type jobExit struct {
	code int
	msg  string
}

func (e *jobExit) Error() string { return e.msg }

// jobExitOf is nil for a COMPLETED job, else its jobExit.
func jobExitOf(j *structs.Job) error {
	if j.State == structs.JobCompleted {
		return nil
	}
	code, what := 1, string(j.State)
	if j.State == structs.JobCompletedWithError {
		what = fmt.Sprintf("%s with exit code %d", j.State, j.ExitCode)
		if j.ExitCode > 0 && j.ExitCode < 256 {
			code = j.ExitCode
		}
	}
	msg := fmt.Sprintf("job %s (number %d) ended %s", j.Name, j.Number, what)
	if j.Substatus != "" {
		msg += ": " + j.Substatus
	}
	return &jobExit{code: code, msg: msg}
}

// errorsAsJobExit reports err's jobExit, if it is one.
func errorsAsJobExit(err error) (*jobExit, bool) {
	var je *jobExit
	ok := errors.As(err, &je)
	return je, ok
}
