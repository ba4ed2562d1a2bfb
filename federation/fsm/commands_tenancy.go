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

// TeamUpsert creates or replaces a team. Membership is kept on the users
// (User.Teams); a team's Members are derived when it is read. With
// SetMembers, the command makes Team.Members exactly the team's members
// in the same transaction (state.WriteTxn.UpsertTeamMembers): each user it
// changes must be stored at the modify index MemberCAS gives, so a
// concurrent change of a user is refused, not lost. Without SetMembers
// (every entry written before it existed) Team.Members is stored as given
// and no read shows it, as no decision ever used it.
type TeamUpsert struct {
	Team structs.Team `json:"team"`
	structs.CAS
	SetMembers bool              `json:"set_members,omitempty"`
	MemberCAS  map[string]uint64 `json:"member_cas,omitempty"`
}

func (c *TeamUpsert) apply(w *state.WriteTxn) (any, error) {
	if c.SetMembers {
		return upserted(w, w.UpsertTeamMembers(&c.Team, c.CAS, c.MemberCAS))
	}
	return upserted(w, w.UpsertTeam(&c.Team, c.CAS))
}

// TeamDelete deletes a team; with DropMembers, it also takes the team out
// of its members' Teams in the same transaction (entries written before
// DropMembers existed leave them, as they did).
type TeamDelete struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	structs.CAS
	DropMembers bool `json:"drop_members,omitempty"`
}

func (c *TeamDelete) apply(w *state.WriteTxn) (any, error) {
	del := func() error { return w.DeleteTeam(c.Tenant, c.Name) }
	if c.DropMembers {
		del = func() error { return w.DeleteTeamAndMembership(c.Tenant, c.Name) }
	}
	return deleted(w, c.CAS, state.TableTeams, "team", del, c.Tenant, c.Name)
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
