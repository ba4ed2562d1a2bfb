package agent

import (
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// runner carries hubsync's calls to the job reconciler (hubsync.Runner on
// runtime.Reconciler), until the reconciler implements the contract itself.
type runner struct {
	rec *runtime.Reconciler
}

// Add runs an assignment; one with a Problem ends with that reason.
func (r *runner) Add(a *structs.Assignment) { r.rec.Add(a) }

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
