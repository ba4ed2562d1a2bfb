package api

import (
	"errors"
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func (s *Server) whoami(c *call) (any, error) {
	id := c.id
	return &structs.CallerInfo{Username: id.Username, Tenant: id.Tenant, Role: id.Role, Teams: id.Teams,
		AdminTeams: id.AdminTeams, Global: id.IsGlobalAdmin(), Cluster: id.Cluster}, nil
}

func (s *Server) listTenants(c *call) (any, error) {
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	if c.id.IsGlobalAdmin() {
		return txn.Tenants()
	}
	t, err := txn.Tenant(c.id.Tenant)
	if err != nil {
		return nil, err
	}
	return []*structs.Tenant{t}, nil
}

func (s *Server) getTenant(c *call) (any, error) {
	name := c.r.PathValue("tenant")
	if err := c.id.CheckReadTenant(name); err != nil {
		return nil, err
	}
	return readOne(c, func(r *state.ReadTxn) (*structs.Tenant, error) { return r.Tenant(name) }, nil)
}

// tenants are the endpoints that write tenants.
func tenants() globalKind[*structs.Tenant] {
	return globalKind[*structs.Tenant]{what: "tenants", key: "tenant", decode: decodeTenant,
		upsert: func(t *structs.Tenant, cas structs.CAS) fsm.Command { return &fsm.TenantUpsert{Tenant: *t, CAS: cas} },
		remove: func(n string, cas structs.CAS) fsm.Command { return &fsm.TenantDelete{Name: n, CAS: cas} }}
}

// listTeams and getTeam show the teams of the tenant in the path
// (which the caller must be in) that the caller may read.
func (s *Server) listTeams(c *call) (any, error) {
	tenant := c.r.PathValue("tenant")
	if err := c.id.CheckReadTenant(tenant); err != nil {
		return nil, err
	}
	return readList(c, func(r *state.ReadTxn) ([]*structs.Team, error) { return r.TeamsByTenant(tenant) },
		allowedBy(c.id.CheckReadTeam))
}

func (s *Server) getTeam(c *call) (any, error) {
	tenant, name := c.r.PathValue("tenant"), c.r.PathValue("team")
	if err := c.id.CheckReadTenant(tenant); err != nil {
		return nil, err
	}
	return readOne(c, func(r *state.ReadTxn) (*structs.Team, error) { return r.Team(tenant, name) },
		func(_ *state.ReadTxn, t *structs.Team) error { return c.id.CheckReadTeam(t) })
}

func (s *Server) putTeam(c *call) (any, error) {
	tenant := c.r.PathValue("tenant")
	if err := c.id.CheckReadTenant(tenant); err != nil {
		return nil, err
	}
	next, err := decodeTeam(c.body(), tenant, c.r.PathValue("team"))
	if err != nil {
		return nil, err
	}
	want, err := c.casQuery()
	if err != nil {
		return nil, err
	}
	// Whether the caller may write depends on the team replaced (its
	// admins): write only if it is still the one checked.
	err = update(c, want, "team", tenant+"/"+next.Name,
		func(r *state.ReadTxn) (*structs.Team, error) { return r.Team(tenant, next.Name) },
		func(old *structs.Team, cas structs.CAS) (fsm.Command, error) {
			if err := c.id.CheckWriteTeam(old, next); err != nil {
				return nil, err
			}
			cmd := &fsm.TeamUpsert{Team: *next, CAS: cas}
			if next.Members != nil { // listed: exactly these (see structs.Team)
				cmd.SetMembers = true
				// update read linearizably: the users are current too.
				cmd.MemberCAS, err = c.membershipChanges(s.reads.Store().Read(), next)
			}
			return cmd, err
		})
	return next, err
}

// membershipChanges checks a write making team t's members exactly
// t.Members: membership is kept on the users (User.Teams), so each user
// whose membership it changes is a user changed, which the caller must be
// allowed (CheckWriteUser) — a team administrator cannot pull a stranger
// into their team, and so under their management. It returns the modify
// index of each such user, the precondition of the write
// (fsm.TeamUpsert.MemberCAS). A name that is not a user of the team's
// tenant is refused alike, whether or not such a user exists elsewhere.
func (c *call) membershipChanges(txn *state.ReadTxn, t *structs.Team) (map[string]uint64, error) {
	cas := map[string]uint64{}
	change := func(u *structs.User, join bool) error {
		next := u.Copy()
		if join {
			next.Teams = append(next.Teams, t.Name)
		} else {
			next.Teams = slices.DeleteFunc(next.Teams, func(n string) bool { return n == t.Name })
		}
		cas[u.Username] = u.ModifyIndex
		return c.id.CheckWriteUser(u, next)
	}
	for i, name := range t.Members {
		if slices.Contains(t.Members[:i], name) {
			return nil, invalid("team %q: member %q listed twice", t.Name, name)
		}
		u, err := txn.User(name)
		if errors.Is(err, structs.ErrNotFound) || (err == nil && u.Tenant != t.Tenant) {
			return nil, invalid("team %q: unknown user %q of tenant %q", t.Name, name, t.Tenant)
		} else if err != nil {
			return nil, err
		}
		if !slices.Contains(u.Teams, t.Name) {
			if err := change(u, true); err != nil {
				return nil, err
			}
		}
	}
	current, err := txn.Team(t.Tenant, t.Name)
	if errors.Is(err, structs.ErrNotFound) {
		return cas, nil
	} else if err != nil {
		return nil, err
	}
	for _, name := range current.Members {
		if slices.Contains(t.Members, name) {
			continue
		}
		u, err := txn.User(name)
		if err != nil {
			return nil, err
		}
		if err := change(u, false); err != nil {
			return nil, err
		}
	}
	return cas, nil
}

func (s *Server) deleteTeam(c *call) (any, error) {
	tenant, name := c.r.PathValue("tenant"), c.r.PathValue("team")
	if err := c.id.CheckReadTenant(tenant); err != nil {
		return nil, err
	}
	return deleteChecked(c, "team", name,
		func(r *state.ReadTxn) (*structs.Team, error) { return r.Team(tenant, name) },
		func(old *structs.Team) error { return c.id.CheckWriteTeam(old, nil) },
		func(cas structs.CAS) fsm.Command {
			return &fsm.TeamDelete{Tenant: tenant, Name: name, CAS: cas, DropMembers: true}
		})
}
