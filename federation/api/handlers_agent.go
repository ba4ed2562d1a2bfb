package api

import (
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// checkAgent allows the cluster's own agent and global administrators.
func (c *call) checkAgent(cluster string) error {
	if c.id.Cluster == cluster || c.id.IsGlobalAdmin() {
		return nil
	}
	return structs.Errorf(structs.ErrForbidden, "cluster %q: its agent only", cluster)
}

// assignments returns the jobs assigned to a cluster that changed after
// ?index=, waiting up to ?wait= for one to change.
func (s *Server) assignments(c *call) (any, error) {
	name := c.r.PathValue("name")
	if err := c.checkAgent(name); err != nil {
		return nil, err
	}
	index, wait, err := c.watchParams()
	if err != nil {
		return nil, err
	}
	deadline := s.b.Now().Add(wait)
	for {
		txn := s.b.Store().Read()
		at := txn.Index(state.TableJobs)
		jobs, err := txn.JobsByClusterSince(name, index)
		if err != nil {
			return nil, err
		}
		left := deadline.Sub(s.b.Now())
		if len(jobs) > 0 || index == 0 || left <= 0 {
			if jobs == nil {
				jobs = []*structs.Job{}
			}
			c.setIndex(at)
			return &structs.AssignmentList{Jobs: jobs, Index: at}, nil
		}
		if err := c.waitIndex(state.TableJobs, at, left); err != nil {
			return nil, err
		}
	}
}

func (s *Server) clusterStatus(c *call) (any, error) {
	name := c.r.PathValue("name")
	if err := c.checkAgent(name); err != nil {
		return nil, err
	}
	rep, err := decodeClusterStatus(c.body())
	if err != nil {
		return nil, err
	}
	return s.b.ReportClusterStatus(c.r.Context(), name, rep)
}
