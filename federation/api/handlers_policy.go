package api

import (
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func (s *Server) listLimits(c *call) (any, error) {
	tenant := c.r.URL.Query().Get("tenant")
	if tenant != "" {
		if err := c.id.CheckReadTenant(tenant); err != nil {
			return nil, err
		}
	} else if !c.id.IsGlobalAdmin() {
		tenant = c.id.Tenant
	}
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	var all []*structs.Limit
	if tenant == "" {
		all, err = txn.Limits()
	} else {
		all, err = txn.LimitsByTenant(tenant)
	}
	if err != nil {
		return nil, err
	}
	out := make([]*structs.Limit, 0, len(all))
	for _, l := range all {
		if c.id.CheckReadLimit(l) == nil {
			out = append(out, l)
		}
	}
	return out, nil
}

func (s *Server) getLimit(c *call) (any, error) {
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	l, err := txn.Limit(c.r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return l, c.id.CheckReadLimit(l)
}

func (s *Server) putLimit(c *call) (any, error) {
	l, err := decodeLimit(c.body(), c.r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	if err := c.id.CheckWriteLimit(l); err != nil {
		return nil, err
	}
	want, err := c.casQuery()
	if err != nil {
		return nil, err
	}
	// The caller must also be allowed to write the limit replaced: write
	// only if it is still the one checked.
	err = update(c, want, "limit", l.Name,
		func(r *state.ReadTxn) (*structs.Limit, error) { return r.Limit(l.Name) },
		func(old *structs.Limit, cas structs.CAS) (fsm.Command, error) {
			if old != nil {
				if err := c.id.CheckWriteLimit(old); err != nil {
					return nil, err
				}
			}
			// update read linearizably: the subjects may have just been made.
			if err := checkLimitSubjects(s.reads.Store().Read(), l); err != nil {
				return nil, err
			}
			return &fsm.LimitUpsert{Limit: *l, CAS: cas}, nil
		})
	return l, err
}

// checkLimitSubjects checks that the team and user a limit names exist in
// its tenant, and that a user limit's team has the user as a member.
func checkLimitSubjects(txn *state.ReadTxn, l *structs.Limit) error {
	if l.Team != "" {
		if err := checkTeamsExist(txn, l.Tenant, []string{l.Team}); err != nil {
			return err
		}
	}
	if l.Scope != structs.ScopeUser {
		return nil
	}
	u, err := optional(txn.User(l.User))
	if err != nil {
		return err
	}
	if u == nil || u.Tenant != l.Tenant {
		return invalid("limit %q: unknown user %q of tenant %q", l.Name, l.User, l.Tenant)
	}
	if l.Team != "" && !slices.Contains(u.Teams, l.Team) {
		return invalid("limit %q: user %q is not in team %q", l.Name, l.User, l.Team)
	}
	return nil
}

func (s *Server) deleteLimit(c *call) (any, error) {
	name := c.r.PathValue("name")
	return deleteChecked(c, "limit", name, func(r *state.ReadTxn) (*structs.Limit, error) { return r.Limit(name) },
		c.id.CheckWriteLimit, func(cas structs.CAS) fsm.Command { return &fsm.LimitDelete{Name: name, CAS: cas} })
}

func (s *Server) listBurstRules(c *call) (any, error) {
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	return txn.BurstRules()
}

func (s *Server) getBurstRule(c *call) (any, error) {
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	return txn.BurstRule(c.r.PathValue("name"))
}

func (s *Server) putBurstRule(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin("burst rules"); err != nil {
		return nil, err
	}
	b, err := decodeBurstRule(c.body(), c.r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return c.writeObject(b, func(cas structs.CAS) fsm.Command { return &fsm.BurstRuleUpsert{Rule: *b, CAS: cas} })
}

func (s *Server) deleteBurstRule(c *call) (any, error) {
	name := c.r.PathValue("name")
	if err := c.id.CheckGlobalAdmin("burst rules"); err != nil {
		return nil, err
	}
	return c.deleteObject(name, func(cas structs.CAS) fsm.Command { return &fsm.BurstRuleDelete{Name: name, CAS: cas} })
}
