package state

import "github.com/flotilla-hpc/flotilla/federation/structs"

// SignalJob records a signal request on a running job (see
// structs.WithSignal): its next sequence number, the oldest request
// dropped beyond structs.MaxJobSignals. A job that is not RUNNING is
// refused (ErrConflict) and nothing changes: its processes are not there
// to take it.
func (w *WriteTxn) SignalJob(c *structs.JobSignalSend) (*structs.Job, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	old, err := w.rawJob(c.ID)
	if err != nil {
		return nil, err
	}
	if old.State != structs.JobRunning {
		return nil, structs.Errorf(structs.ErrConflict, "job %q is %s: only a running job takes signals", c.ID, old.State)
	}
	n := *old
	n.Signals = structs.WithSignal(old.Signals, c)
	return w.putJob(&n, old, c.Time)
}
