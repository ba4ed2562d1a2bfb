package agentd

import (
	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// runner carries hubsync's calls to the job reconciler (hubsync.Runner on
// agent.Reconciler), until the reconciler implements the contract itself.
type runner struct {
	rec    *agent.Reconciler
	report func(structs.JobStateUpdate)
}

// Add runs an assignment. One with a Problem is ended here with that
// reason — unless the reconciler already runs the job (the problem
// arose after it started, and the job keeps what it started with).
func (r *runner) Add(a *structs.Assignment) {
	j := a.Job
	if a.Problem != "" {
		if _, known := r.rec.States()[j.Number]; known {
			return
		}
		r.report(structs.JobStateUpdate{ID: j.ID, Number: j.Number, Cluster: j.Cluster,
			State: structs.JobCompletedWithError, Substatus: a.Problem, ExitCode: 1, Time: r.rec.Now()})
		r.rec.Cancel(j.Number) // removes what an earlier agent may have left, reports nothing
		return
	}
	js := agent.JobSpec{Job: j, Machine: a.MachineType, Command: a.Command, Vault: a.Vault}
	if a.Identity != nil {
		js.Identity = *a.Identity
	}
	if a.Image != "" {
		js.App = &structs.App{Name: j.App, Image: a.Image}
	}
	r.rec.Add(js)
}

// Cancel stops a job.
func (r *runner) Cancel(number uint64) { r.rec.Cancel(number) }

// Acknowledged needs nothing yet: the reconciler deletes a job's objects
// as soon as it reports the job's end.
func (r *runner) Acknowledged(uint64) {}

// Resync stops every job the reconciler runs that the hub no longer has
// active here.
func (r *runner) Resync(active map[uint64]bool) {
	for n, st := range r.rec.States() {
		if st != "" && !st.IsTerminal() && !active[n] {
			r.rec.Cancel(n)
		}
	}
}
