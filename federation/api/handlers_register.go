package api

import (
	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Agent registration: a global administrator creates a one-time bootstrap
// token for a registered cluster (shown once, stored hashed); the cluster's
// agent exchanges it for its agent key, which clears the token.

func (s *Server) createBootstrapToken(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin("clusters"); err != nil {
		return nil, err
	}
	name := c.r.PathValue("name")
	cl, err := current(c, func(r *state.ReadTxn) (*structs.Cluster, error) { return r.Cluster(name) })
	if err != nil {
		return nil, err
	}
	token, stored := auth.NewKey(auth.BootstrapPrefix, s.b.Now())
	stored.Name = "bootstrap of " + cl.Name
	cl.BootstrapToken = stored
	if err := c.write(&fsm.ClusterUpsert{Cluster: *cl}); err != nil {
		return nil, err
	}
	return &structs.APIKeyCreated{APIKeyInfo: structs.APIKeyInfo{ID: stored.ID, Name: stored.Name, Created: stored.Created}, Key: token}, nil
}

func (s *Server) registerAgent(c *call) (any, error) {
	var req structs.RegisterRequest
	if err := decodeStrict(c.body(), &req); err != nil {
		return nil, err
	}
	name := c.r.PathValue("name")
	cl, err := current(c, func(r *state.ReadTxn) (*structs.Cluster, error) { return r.Cluster(name) })
	if err != nil {
		// Say nothing about which clusters exist to an unauthenticated caller.
		return nil, structs.Errorf(structs.ErrUnauthorized, "invalid bootstrap token")
	}
	prefix, id, ok := auth.ParseKey(req.Token)
	if !ok || prefix != auth.BootstrapPrefix || cl.BootstrapToken.ID != id || !cl.BootstrapToken.Matches(req.Token) {
		return nil, structs.Errorf(structs.ErrUnauthorized, "invalid bootstrap token")
	}
	key, stored := auth.NewKey(auth.AgentKeyPrefix, s.b.Now())
	stored.Name = "agent of " + cl.Name
	cl.AgentKey, cl.BootstrapToken = stored, structs.APIKeyHash{}
	if err := c.write(&fsm.ClusterUpsert{Cluster: *cl}); err != nil {
		return nil, err
	}
	return &structs.APIKeyCreated{APIKeyInfo: structs.APIKeyInfo{ID: stored.ID, Name: stored.Name, Created: stored.Created}, Key: key}, nil
}
