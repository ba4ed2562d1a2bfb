package api

import (
	"io"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Access rules restrict apps, machine types, vaults and clusters to groups
// or tenants (policy/access); global administrators manage them, every user
// may read them (a denied submit names the rule).

func (s *Server) listAccessRules(c *call) (any, error) {
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	return txn.AccessRules()
}

func (s *Server) getAccessRule(c *call) (any, error) {
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	return txn.AccessRule(c.r.PathValue("name"))
}

func (s *Server) putAccessRule(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin("access rules"); err != nil {
		return nil, err
	}
	a, err := decodeAccessRule(c.body(), c.r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return c.writeObject(a, func(cas structs.CAS) fsm.Command { return &fsm.AccessRuleUpsert{Rule: *a, CAS: cas} })
}

func (s *Server) deleteAccessRule(c *call) (any, error) {
	name := c.r.PathValue("name")
	if err := c.id.CheckGlobalAdmin("access rules"); err != nil {
		return nil, err
	}
	return c.deleteObject(name, func(cas structs.CAS) fsm.Command { return &fsm.AccessRuleDelete{Name: name, CAS: cas} })
}

func decodeAccessRule(r io.Reader, name string) (*structs.AccessRule, error) {
	var a structs.AccessRule
	if err := decodeStrict(r, &a); err != nil {
		return nil, err
	}
	var err error
	if a.Name, err = pathName("access rule", a.Name, name); err != nil {
		return nil, err
	}
	a.RaftIndex = structs.RaftIndex{}
	return &a, a.Validate()
}
