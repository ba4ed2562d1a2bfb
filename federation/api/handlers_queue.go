package api

import (
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jobQueue answers GET /v1/jobs/{id}/queue: the job's place among the
// jobs waiting for its machine type (structs.PositionIn). Anyone who may
// read the job may ask; the reply counts other jobs, never names them.
func (s *Server) jobQueue(c *call) (any, error) {
	txn, j, err := c.readableJob()
	if err != nil {
		return nil, err
	}
	var waiting []*structs.Job
	if j.State == structs.JobQueued || j.State == structs.JobSubmitted {
		mt := j.EffectiveMachineType()
		for _, st := range []structs.JobState{structs.JobSubmitted, structs.JobQueued} {
			jobs, _, err := txn.ListJobs(state.JobFilter{State: st,
				Match: func(o *structs.Job) bool { return o.EffectiveMachineType() == mt }})
			if err != nil {
				return nil, err
			}
			waiting = append(waiting, jobs...)
		}
	}
	c.setIndex(j.ModifyIndex)
	return structs.PositionIn(j, waiting), nil
}
