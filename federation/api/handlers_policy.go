package api

import (
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func (s *Server) listLimits(c *call) (any, error) {
	return readTenantList(c, (*state.ReadTxn).Limits, (*state.ReadTxn).LimitsByTenant, allowedBy(c.id.CheckReadLimit))
}

func (s *Server) getLimit(c *call) (any, error) {
	name := c.r.PathValue("name")
	return readOne(c, func(r *state.ReadTxn) (*structs.Limit, error) { return r.Limit(name) },
		func(_ *state.ReadTxn, l *structs.Limit) error { return c.id.CheckReadLimit(l) })
}

func (s *Server) putLimit(c *call) (any, error) {
	l, err := decodeLimit(c.body(), c.r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	// The subjects may have just been made: they are checked on the
	// linearizable view.
	return replaceChecked(c, "limit", l.Name, l, func(r *state.ReadTxn) (*structs.Limit, error) { return r.Limit(l.Name) },
		c.id.CheckWriteLimit, func(r *state.ReadTxn) error { return checkLimitSubjects(r, l) },
		func(cas structs.CAS) fsm.Command { return &fsm.LimitUpsert{Limit: *l, CAS: cas} })
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

// burstRules are the endpoints of burst rules.
func burstRules() globalKind[*structs.BurstRule] {
	return globalKind[*structs.BurstRule]{what: "burst rules", list: (*state.ReadTxn).BurstRules,
		get: (*state.ReadTxn).BurstRule, decode: decodeBurstRule,
		upsert: func(b *structs.BurstRule, cas structs.CAS) fsm.Command {
			return &fsm.BurstRuleUpsert{Rule: *b, CAS: cas}
		},
		remove: func(n string, cas structs.CAS) fsm.Command { return &fsm.BurstRuleDelete{Name: n, CAS: cas} }}
}
