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
	created, err := c.issueClusterSecret(auth.BootstrapPrefix, "bootstrap",
		func(cl *structs.Cluster) *structs.APIKeyHash { return &cl.BootstrapToken })
	if err != nil {
		return nil, err
	}
	// The token the administrator hands to the agent carries the pin of the
	// hub's CA, so the agent can check the hub before it trusts it.
	created.Key = hubtls.JoinToken(created.Key, s.caPin)
	return created, nil
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
	key, stored := auth.NewKey(auth.AgentKeyPrefix, s.now())
	if req.AgentKey != "" {
		// The agent's own key: a retry of the same registration sends it
		// again (see RegisterRequest.AgentKey).
		kp, kid, ok := auth.ParseKey(req.AgentKey)
		if !ok || kp != auth.AgentKeyPrefix {
			return nil, invalid("agent_key: want an agent key fla_<16 hex digits>_<64 hex digits>")
		}
		key, stored = req.AgentKey, structs.HashAPIKey(kid, req.AgentKey)
		stored.Created = s.now().UTC()
	}
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
			case cl.AgentKey.ID == stored.ID && cl.AgentKey.Matches(key):
				// This registration is done already: an attempt whose
				// reply was lost (the same key sent again), or the
				// write of this call's own CAS retry.
				stored.Created = cl.AgentKey.Created
				return nil, nil
			case cl.BootstrapToken.ID != id || !cl.BootstrapToken.Matches(token):
				return nil, invalidToken
			}
			if req.AgentKey != "" {
				// Key ids index the agent keys: an agent's own key must
				// not take another cluster's (told only to a caller
				// holding a valid token).
				other, err := optional(c.s.reads.Store().Read().ClusterByAgentKeyID(stored.ID))
				if err != nil {
					return nil, err
				}
				if other != nil && other.Name != name {
					return nil, structs.Errorf(structs.ErrConflict, "agent_key: its id is another key's; make another key")
				}
			}
			cl.AgentKey, cl.BootstrapToken = stored, structs.APIKeyHash{}
			return &fsm.ClusterUpsert{Cluster: *cl, CAS: cas}, nil
		})
	if err != nil {
		return nil, err
	}
	return &structs.APIKeyCreated{APIKeyInfo: structs.APIKeyInfo{ID: stored.ID, Name: stored.Name, Created: stored.Created}, Key: key}, nil
}
