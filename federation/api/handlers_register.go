package api

import (
	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// Agent registration: a global administrator creates a one-time bootstrap
// token for a registered cluster (shown once, stored hashed); the cluster's
// agent exchanges it for its agent key, which clears the token. Both are
// read-modify-writes of the cluster (see update): of two agents racing
// with one token exactly one gets a key, the other finds the token used.

func (s *Server) createBootstrapToken(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin("clusters"); err != nil {
		return nil, err
	}
	name := c.r.PathValue("name")
	token, stored := auth.NewKey(auth.BootstrapPrefix, s.b.Now())
	stored.Name = "bootstrap of " + name
	err := update(c, nil, "cluster", name,
		func(r *state.ReadTxn) (*structs.Cluster, error) { return r.Cluster(name) },
		func(cl *structs.Cluster, cas structs.CAS) (fsm.Command, error) {
			switch {
			case cl == nil:
				return nil, structs.Errorf(structs.ErrNotFound, "cluster %q", name)
			case cl.BootstrapToken.ID == stored.ID:
				return nil, nil // an attempt whose reply was lost stored it
			}
			cl.BootstrapToken = stored
			return &fsm.ClusterUpsert{Cluster: *cl, CAS: cas}, nil
		})
	if err != nil {
		return nil, err
	}
	// The token the administrator hands to the agent carries the pin of the
	// hub's CA, so the agent can check the hub before it trusts it.
	return &structs.APIKeyCreated{APIKeyInfo: structs.APIKeyInfo{ID: stored.ID, Name: stored.Name, Created: stored.Created},
		Key: hubtls.JoinToken(token, s.caPin)}, nil
}

func (s *Server) registerAgent(c *call) (any, error) {
	var req structs.RegisterRequest
	if err := decodeStrict(c.body(), &req); err != nil {
		return nil, err
	}
	name := c.r.PathValue("name")
	// An agent sends the token without the CA pin; accept it with one too.
	token, _, err := hubtls.SplitToken(req.Token)
	if err != nil {
		return nil, structs.Errorf(structs.ErrUnauthorized, "invalid bootstrap token")
	}
	prefix, id, ok := auth.ParseKey(token)
	// Say nothing about which clusters exist to an unauthenticated caller.
	invalidToken := structs.Errorf(structs.ErrUnauthorized, "invalid bootstrap token")
	if !ok || prefix != auth.BootstrapPrefix {
		return nil, invalidToken
	}
	key, stored := auth.NewKey(auth.AgentKeyPrefix, s.b.Now())
	stored.Name = "agent of " + name
	// The write clears the token on the condition that the cluster is
	// unchanged since the token was checked, so a token works once: a
	// racing registration is refused, reads the cluster again and finds
	// the token gone.
	err = update(c, nil, "cluster", name,
		func(r *state.ReadTxn) (*structs.Cluster, error) { return r.Cluster(name) },
		func(cl *structs.Cluster, cas structs.CAS) (fsm.Command, error) {
			switch {
			case cl == nil:
				return nil, invalidToken
			case cl.AgentKey.ID == stored.ID:
				return nil, nil // an attempt whose reply was lost registered
			case cl.BootstrapToken.ID != id || !cl.BootstrapToken.Matches(token):
				return nil, invalidToken
			}
			cl.AgentKey, cl.BootstrapToken = stored, structs.APIKeyHash{}
			return &fsm.ClusterUpsert{Cluster: *cl, CAS: cas}, nil
		})
	if err != nil {
		return nil, err
	}
	return &structs.APIKeyCreated{APIKeyInfo: structs.APIKeyInfo{ID: stored.ID, Name: stored.Name, Created: stored.Created}, Key: key}, nil
}
