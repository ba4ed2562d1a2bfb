package fsm

import (
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// JobSignal records a signal request on a running job (Job.Signals),
// which its cluster's agent hands to the job's pods. Gated (see
// known.go). Result: *structs.Job.
type JobSignal structs.JobSignalSend

func (c *JobSignal) apply(w *state.WriteTxn) (any, error) {
	return w.SignalJob((*structs.JobSignalSend)(c))
}
