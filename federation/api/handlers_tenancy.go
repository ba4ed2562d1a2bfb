package api

import (
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
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	return txn.Tenant(name)
}

func (s *Server) putTenant(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin("tenants"); err != nil {
		return nil, err
	}
	t, err := decodeTenant(c.body(), c.r.PathValue("tenant"))
	if err != nil {
		return nil, err
	}
	return c.writeObject(t, func(cas structs.CAS) fsm.Command { return &fsm.TenantUpsert{Tenant: *t, CAS: cas} })
}

func (s *Server) deleteTenant(c *call) (any, error) {
	name := c.r.PathValue("tenant")
	if err := c.id.CheckGlobalAdmin("tenants"); err != nil {
		return nil, err
	}
	return c.deleteObject(name, func(cas structs.CAS) fsm.Command { return &fsm.TenantDelete{Name: name, CAS: cas} })
}

func (s *Server) listTeams(c *call) (any, error) {
	tenant := c.r.PathValue("tenant")
	if err := c.id.CheckReadTenant(tenant); err != nil {
		return nil, err
	}
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	teams, err := txn.TeamsByTenant(tenant)
	if err != nil {
		return nil, err
	}
	out := make([]*structs.Team, 0, len(teams))
	for _, t := range teams {
		if c.id.CheckReadTeam(t) == nil {
			out = append(out, t)
		}
	}
	return out, nil
}

func (s *Server) getTeam(c *call) (any, error) {
	tenant := c.r.PathValue("tenant")
	if err := c.id.CheckReadTenant(tenant); err != nil {
		return nil, err
	}
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	t, err := txn.Team(tenant, c.r.PathValue("team"))
	if err != nil {
		return nil, err
	}
	return t, c.id.CheckReadTeam(t)
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
			return &fsm.TeamUpsert{Team: *next, CAS: cas}, nil
		})
	return next, err
}

func (s *Server) deleteTeam(c *call) (any, error) {
	tenant, name := c.r.PathValue("tenant"), c.r.PathValue("team")
	if err := c.id.CheckReadTenant(tenant); err != nil {
		return nil, err
	}
	return deleteChecked(c, "team", name,
		func(r *state.ReadTxn) (*structs.Team, error) { return r.Team(tenant, name) },
		func(old *structs.Team) error { return c.id.CheckWriteTeam(old, nil) },
		func(cas structs.CAS) fsm.Command { return &fsm.TeamDelete{Tenant: tenant, Name: name, CAS: cas} })
}

