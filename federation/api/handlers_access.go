package api

import (
	"io"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Access rules restrict apps, machine types, vaults and clusters to groups
// or tenants (policy/access); global administrators manage them, every user
// may read them (a denied submit names the rule).

func (s *Server) listAccessRules(c *call) (any, error) {
	return readOne(c, (*state.ReadTxn).AccessRules, nil)
}

func (s *Server) getAccessRule(c *call) (any, error) {
	name := c.r.PathValue("name")
	return readOne(c, func(r *state.ReadTxn) (*structs.AccessRule, error) { return r.AccessRule(name) }, nil)
}

func (s *Server) putAccessRule(c *call) (any, error) {
	return putGlobal(c, "access rules", func() (*structs.AccessRule, error) { return decodeAccessRule(c.body(), c.r.PathValue("name")) },
		func(a *structs.AccessRule, cas structs.CAS) fsm.Command {
			return &fsm.AccessRuleUpsert{Rule: *a, CAS: cas}
		})
}

func (s *Server) deleteAccessRule(c *call) (any, error) {
	name := c.r.PathValue("name")
	return deleteGlobal(c, "access rules", name, func(cas structs.CAS) fsm.Command { return &fsm.AccessRuleDelete{Name: name, CAS: cas} })
}

func decodeAccessRule(r io.Reader, name string) (*structs.AccessRule, error) {
	return decodeObject(r, func(a *structs.AccessRule) []pathKey { return []pathKey{{"access rule", &a.Name, name}} })
}
