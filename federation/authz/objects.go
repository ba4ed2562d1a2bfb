package authz

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// CheckReadJob allows the owner, administrators of the job's team and of
// its tenant.
func (id *Identity) CheckReadJob(j *structs.Job) error {
	ok := id.AdminsTenant(j.Tenant) ||
		(id.IsUser() && j.Tenant == id.Tenant && j.Owner == id.Username) ||
		id.AdminsTeamDirectly(j.Tenant, j.Team)
	return allow(ok, "job %q", j.ID)
}

// CanReadJob is CheckReadJob as a predicate, for filtering lists.
func (id *Identity) CanReadJob(j *structs.Job) bool { return id.CheckReadJob(j) == nil }

// CheckControlJob allows cancelling or terminating a job: the same callers
// that may read it.
func (id *Identity) CheckControlJob(j *structs.Job) error { return id.CheckReadJob(j) }

// CheckWriteVault allows the vault's tenant administrators.
func (id *Identity) CheckWriteVault(v *structs.Vault) error {
	return allow(id.AdminsTenant(v.Tenant), "vault %q of tenant %q: administrators only", v.Name, v.Tenant)
}

// CheckWriteApp is self-service publishing (JARVICE's PushToCompute):
// global administrators write every app, tenant administrators their
// tenant's non-public apps, team administrators their team's team apps,
// and every user their own private apps.
func (id *Identity) CheckWriteApp(a *structs.App) error {
	ok := id.IsGlobalAdmin()
	if !ok && a.Tenant != "" && a.Visibility != structs.VisibilityPublic {
		switch {
		case id.AdminsTenant(a.Tenant):
			ok = true
		case a.Visibility == structs.VisibilityTeam:
			ok = id.AdminsTeamDirectly(a.Tenant, a.Team)
		case a.Visibility == structs.VisibilityPrivate:
			ok = id.IsUser() && id.InTenant(a.Tenant) && a.Owner == id.Username
		}
	}
	return allow(ok, "app %q: not its publisher", a.Name)
}

// CheckReadLimit allows the tenant's administrators, and inside the tenant:
// tenant-wide limits to all, team limits to the team's members and
// administrators, user limits to the user and their team's administrators.
func (id *Identity) CheckReadLimit(l *structs.Limit) error {
	ok := id.AdminsTenant(l.Tenant)
	if !ok && id.InTenant(l.Tenant) {
		switch l.Scope {
		case structs.ScopeTenant:
			ok = true
		case structs.ScopeTeam:
			ok = id.MemberOf(l.Tenant, l.Team) || id.AdminsTeamDirectly(l.Tenant, l.Team)
		case structs.ScopeUser:
			ok = l.User == id.Username || id.AdminsTeamDirectly(l.Tenant, l.Team)
		}
	}
	return allow(ok, "limit %q", l.Name)
}

// CheckWriteLimit allows global administrators every limit; tenant
// administrators their tenant's team and user limits; team administrators
// the limits of their team and of users in it (Team set).
func (id *Identity) CheckWriteLimit(l *structs.Limit) error {
	ok := id.IsGlobalAdmin() ||
		(l.Scope != structs.ScopeTenant && (id.AdminsTenant(l.Tenant) || id.AdminsTeamDirectly(l.Tenant, l.Team)))
	return allow(ok, "limit %q: not its administrator", l.Name)
}
