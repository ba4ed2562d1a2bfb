package api

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// checkAgent allows the cluster's own agent and global administrators.
func (c *call) checkAgent(cluster string) error {
	if c.id.Cluster == cluster || c.id.IsGlobalAdmin() {
		return nil
	}
	return structs.Errorf(structs.ErrForbidden, "cluster %q: its agent only", cluster)
}

// clusterStatus records an agent's status push; every job report gets an
// outcome (see hub.ReportClusterStatus).
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
