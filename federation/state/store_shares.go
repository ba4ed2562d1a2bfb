package state

import "github.com/flotilla-hpc/flotilla/federation/structs"

// ShareJob creates or revokes a share link of a job (see
// structs.WithShareChange). A link is created only on a RUNNING job
// (ErrConflict otherwise: its guard is not there to take it); one is
// revoked on a job in any state. A refused change changes nothing.
func (w *WriteTxn) ShareJob(c *structs.JobShareChange) (*structs.Job, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	old, err := w.rawJob(c.ID)
	if err != nil {
		return nil, err
	}
	if c.Create != nil && old.State != structs.JobRunning {
		return nil, structs.Errorf(structs.ErrConflict, "job %q is %s: only a running interactive job has share links", c.ID, old.State)
	}
	shares, err := structs.WithShareChange(old.Shares, c)
	if err != nil {
		return nil, err
	}
	n := *old
	n.Shares = shares
	return w.putJob(&n, old, c.Time)
}
