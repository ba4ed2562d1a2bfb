package fsm

import (
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// JobShares creates or revokes a share link of a running interactive job
// (Job.Shares: token hashes only), which its cluster's agent writes into
// the job's shares Secret. Gated (see known.go). Result: *structs.Job.
type JobShares structs.JobShareChange

func (c *JobShares) apply(w *state.WriteTxn) (any, error) {
	return w.ShareJob((*structs.JobShareChange)(c))
}
