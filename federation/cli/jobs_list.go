package cli

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// slurmStates are the Slurm job state names (long and short, as squeue
// -t and sacct -s take them) and the Flotilla states each stands for.
// Flotilla's own names stand for themselves; CANCELED is Flotilla's
// (stopped before it started), CANCELLED Slurm's (stopped at any time).
var slurmStates = map[string][]structs.JobState{
	"PENDING":     {structs.JobSubmitted, structs.JobHeld, structs.JobQueued},
	"PD":          {structs.JobSubmitted, structs.JobHeld, structs.JobQueued},
	"CONFIGURING": {structs.JobAssigned, structs.JobStarting},
	"CF":          {structs.JobAssigned, structs.JobStarting},
	"R":           {structs.JobRunning},
	"CD":          {structs.JobCompleted},
	"FAILED":      {structs.JobCompletedWithError},
	"F":           {structs.JobCompletedWithError},
	"CANCELLED":   {structs.JobCanceled, structs.JobTerminated},
	"CA":          {structs.JobCanceled, structs.JobTerminated},
}

// parseStates reads a comma-separated list of job states, Flotilla's
// (any case, "completed with error" with spaces or dashes too) or
// Slurm's (slurmStates), into the Flotilla states it names, in their
// order, each once.
func parseStates(list string) ([]structs.JobState, error) {
	var out []structs.JobState
	for name := range strings.SplitSeq(list, ",") {
		norm := strings.ToUpper(strings.NewReplacer(" ", "_", "-", "_").Replace(strings.TrimSpace(name)))
		if norm == "" {
			continue
		}
		states := slurmStates[norm]
		if st := structs.JobState(norm); st.Valid() {
			states = []structs.JobState{st}
		}
		if states == nil {
			return nil, fmt.Errorf("%q: unknown state; want QUEUED, HELD, RUNNING, COMPLETED, ... or Slurm's PENDING (PD), RUNNING (R), FAILED (F), CANCELLED (CA), ...", strings.TrimSpace(name))
		}
		for _, st := range states {
			if !slices.Contains(out, st) {
				out = append(out, st)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q: no state named", list)
	}
	return out, nil
}

// jobFilter is the filter flags that jobs and cancel share.
type jobFilter struct {
	q     client.JobQuery
	state string
}

func (f *jobFilter) register(fs *flag.FlagSet) {
	fs.StringVar(&f.state, "state", "", "only jobs in these states, comma-separated: QUEUED, HELD, RUNNING, ... or Slurm's PENDING (PD), RUNNING (R), FAILED (F), CANCELLED (CA)")
	fs.StringVar(&f.q.Owner, "owner", "", "only jobs of this user")
	fs.StringVar(&f.q.Owner, "user", "", "the same as --owner (Slurm's name)")
	fs.StringVar(&f.q.Tenant, "tenant", "", "only jobs of this tenant")
	fs.StringVar(&f.q.Cluster, "cluster", "", "only jobs on this cluster")
}

// set reports whether any filter flag was given.
func (f *jobFilter) set() bool {
	return f.state != "" || f.q.Owner != "" || f.q.Tenant != "" || f.q.Cluster != ""
}

// list reads the jobs the filter selects, active ones only unless all or
// a state is given, in number order. Several states are one query each.
func (f *jobFilter) list(ctx context.Context, cl *client.Client, cmd string, all bool) ([]*structs.Job, error) {
	var states []structs.JobState
	if f.state != "" {
		var err error
		if states, err = parseStates(f.state); err != nil {
			return nil, usagef("%s: --state %v", cmd, err)
		}
	}
	q := f.q
	if len(states) == 0 {
		q.Active = !all
		return cl.AllJobs(ctx, q)
	}
	var jobs []*structs.Job
	for _, st := range states {
		q.State = st
		page, err := cl.AllJobs(ctx, q)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, page...)
	}
	slices.SortFunc(jobs, func(a, b *structs.Job) int { return cmpNumber(a.Number, b.Number) })
	return jobs, nil
}

func cmpNumber(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func runJobs(ctx context.Context, s *session, path, args []string) error {
	fs := s.flagSet("jobs")
	var f jobFilter
	all := fs.Bool("all", false, "include finished jobs")
	f.register(fs)
	if _, err := s.leaf(fs, path, "", 0, 0, args); err != nil {
		return err
	}
	if f.state != "" {
		if _, err := parseStates(f.state); err != nil {
			return usagef("jobs: --state %v", err)
		}
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	jobs, err := f.list(ctx, cl, "jobs", *all)
	if err != nil {
		return err
	}
	return s.show(orEmpty(jobs), func() error {
		if len(jobs) == 0 {
			_, err := fmt.Fprintln(s.stdout, "No jobs.")
			return err
		}
		now := s.now()
		rows := make([][]string, len(jobs))
		for i, j := range jobs {
			rows[i] = []string{strconv.FormatUint(j.Number, 10), j.Name, dash(j.Label), j.Owner, string(j.State), j.App,
				j.MachineType, strconv.Itoa(j.Nodes), dash(j.Cluster), stamp(j.SubmitTime), timeUsed(j, now), dash(waitReason(j))}
		}
		return s.table([]string{"NUMBER", "NAME", "LABEL", "OWNER", "STATE", "APP", "MACHINE", "NODES", "CLUSTER", "SUBMITTED", "TIME", "REASON"}, rows)
	})
}

// timeUsed is squeue's TIME: how long the job has run, start to now (to
// its end once ended), "0:00" before it started.
func timeUsed(j *structs.Job, now time.Time) string {
	d, _ := j.RunTime(now)
	return structs.SqueueTime(d)
}

// waitReason is why a job that waits for placement waits (squeue's
// REASON), "" for jobs that do not wait.
func waitReason(j *structs.Job) string {
	switch j.State {
	case structs.JobSubmitted, structs.JobHeld, structs.JobQueued:
		return explain(j)
	}
	return ""
}
