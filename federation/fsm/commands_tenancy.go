package fsm

import (
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TenantUpsert creates or replaces a tenant.
type TenantUpsert struct {
	Tenant structs.Tenant `json:"tenant"`
	structs.CAS
}

func (c *TenantUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertTenant(&c.Tenant, c.CAS))
}

// TenantDelete deletes a tenant with no teams, users, vaults or limits.
type TenantDelete struct {
	Name string `json:"name"`
	structs.CAS
}

func (c *TenantDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableTenants, "tenant", func() error { return w.DeleteTenant(c.Name) }, c.Name)
}

// TeamUpsert creates or replaces a team.
type TeamUpsert struct {
	Team structs.Team `json:"team"`
	structs.CAS
}

func (c *TeamUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertTeam(&c.Team, c.CAS))
}

// TeamDelete deletes a team.
type TeamDelete struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	structs.CAS
}

func (c *TeamDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableTeams, "team", func() error { return w.DeleteTeam(c.Tenant, c.Name) }, c.Tenant, c.Name)
}

// UserUpsert creates or replaces a user.
type UserUpsert struct {
	User structs.User `json:"user"`
	structs.CAS
}

func (c *UserUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertUser(&c.User, c.CAS))
}

// UserDelete deletes a user.
type UserDelete struct {
	Username string `json:"username"`
	structs.CAS
}

func (c *UserDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableUsers, "user", func() error { return w.DeleteUser(c.Username) }, c.Username)
}
