package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// appScripts are the demo app's commands: scripts on this machine, which
// local nodes run from the host's filesystem.
type appScripts struct{ hello, work string }

// writeScripts writes the app's commands into dir. hello is a real mpirun
// across the job's pods (the machinefile and SSH trust the runtime sets
// up), one line per rank; work keeps its nodes busy for a while.
func writeScripts(dir string) (appScripts, error) {
	s := appScripts{hello: filepath.Join(dir, "mpi-hello.sh"), work: filepath.Join(dir, "work.sh")}
	hello := `#!/bin/sh
# One rank per core of every node in the machinefile, over SSH, placed
# round-robin by node (a host line without slots= lets Open MPI count the
# machine's cores, which local nodes share: ranks would pile on few pods).
exec mpirun --hostfile "$FLOTILLA_CORESFILE" -np "$FLOTILLA_TCORES" --map-by node \
  sh -c 'echo "hello from rank $OMPI_COMM_WORLD_RANK of $OMPI_COMM_WORLD_SIZE on $(hostname) ($(hostname -I | cut -d" " -f1))"'
`
	work := `#!/bin/sh
echo "working on $(hostname) for 40 s"
sleep 40
echo done
`
	for p, body := range map[string]string{s.hello: hello, s.work: work} {
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			return s, err
		}
	}
	return s, nil
}

// tracked is a submitted job and the states it went through.
type tracked struct {
	job   *structs.Job
	label string
	steps []step
}

type step struct {
	at     time.Time
	state  structs.JobState
	detail string
}

// submit submits a job as the client's user.
func submit(ctx context.Context, c *client.Client, label, command, mt string, nodes int) (*tracked, error) {
	j, err := c.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "mpi-hello", Command: command,
		MachineType: mt, Nodes: nodes})
	if err != nil {
		return nil, err
	}
	fmt.Printf("submitted %-24s %s: %s on %d × %s\n", j.Name, label, command, nodes, mt)
	return &tracked{job: j, label: label, steps: []step{{at: j.SubmitTime, state: j.State, detail: j.Substatus}}}, nil
}

// poll refreshes every job until done says each has reached a state that
// is enough. The states come from the hub's event log (GET /v1/events),
// which records every change with the time the hub made it, so a state
// that lasted less than a poll (ASSIGNED, STARTING) is still shown; the
// job itself is read for its substatus, which the log does not carry.
func poll(ctx context.Context, c *client.Client, jobs []*tracked, done func(*structs.Job) bool) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	byID := make(map[string]*tracked, len(jobs))
	for _, t := range jobs {
		byID[t.job.ID] = t
	}
	var since uint64
	for {
		all := true
		cur := make(map[*tracked]*structs.Job, len(jobs))
		for _, t := range jobs {
			j, err := c.GetJob(ctx, t.job.ID, false)
			if err != nil {
				all = false
				continue
			}
			cur[t], t.job = j, j
			if !done(j) {
				all = false
			}
		}
		// Read after the jobs: the log is then at least as new as they are.
		if page, err := c.Events(ctx, since, 0); err == nil {
			since = page.Index
			for _, e := range page.Events {
				if t := byID[e.JobID]; t != nil && e.State != t.steps[len(t.steps)-1].state {
					t.steps = append(t.steps, step{at: e.Time, state: e.State})
				}
			}
		} else {
			all = false
		}
		for t, j := range cur {
			last := &t.steps[len(t.steps)-1]
			switch {
			case j.State != last.state || j.Substatus == last.detail:
			case last.detail == "":
				last.detail = j.Substatus // the state's first substatus, on its line
			default:
				t.steps = append(t.steps, step{at: time.Now(), state: j.State, detail: j.Substatus})
			}
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func terminal(j *structs.Job) bool { return j.State.IsTerminal() }

// printTimeline prints a job's states with the seconds since submission.
func printTimeline(t *tracked) {
	j := t.job
	where := j.Cluster
	if j.BurstRule != "" {
		where += fmt.Sprintf(" (burst to %s by rule %s)", j.AssignedMachineType, j.BurstRule)
	}
	fmt.Printf("\n%s %s — %s on %s\n", j.Name, t.label, j.State, where)
	start := t.steps[0].at
	for _, s := range t.steps {
		fmt.Printf("  +%5.1fs  %-21s %s\n", s.at.Sub(start).Seconds(), s.state, s.detail)
	}
	if j.State.IsTerminal() && j.State != structs.JobCompleted {
		fmt.Printf("  exit code %d\n", j.ExitCode)
	}
}

// showOutput runs `flotilla output JOB`: the job's output read through the hub.
func showOutput(bin, hub, key string, j *structs.Job) {
	args := []string{"--hub", hub, "--api-key", key, "output", j.Name}
	fmt.Printf("\n$ flotilla output %s\n", j.Name)
	out, err := exec.Command(filepath.Join(bin, "flotilla"), args...).CombinedOutput()
	fmt.Print(indent(string(out)))
	if err != nil {
		fmt.Printf("  (flotilla output: %v)\n", err)
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString("  " + l)
		}
	}
	return b.String()
}
