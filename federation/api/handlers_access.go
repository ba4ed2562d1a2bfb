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
	want, err := c.casQuery()
	if err != nil {
		return nil, err
	}
	return a, c.write(&fsm.AccessRuleUpsert{Rule: *a, CAS: orNone(want)})
}

func (s *Server) deleteAccessRule(c *call) (any, error) {
	name := c.r.PathValue("name")
	if err := c.id.CheckGlobalAdmin("access rules"); err != nil {
		return nil, err
	}
	want, err := c.deleteCAS()
	if err != nil {
		return nil, err
	}
	return &structs.Deleted{Deleted: name}, c.write(&fsm.AccessRuleDelete{Name: name, CAS: orNone(want)})
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
