package auth

import (
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The checks below return nil when the caller may act, or an
// ErrForbidden error naming the object (never a secret).

func forbidden(format string, args ...any) error {
	return structs.Errorf(structs.ErrForbidden, format, args...)
}

func allow(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return forbidden(format, args...)
}

// CheckGlobalAdmin allows only administrators of the system tenant (who
// manage machine types, clusters, burst rules and tenants).
func (id *Identity) CheckGlobalAdmin(what string) error {
	return allow(id.IsGlobalAdmin(), "%s: administrators only", what)
}

// CheckUser allows any user (not an agent).
func (id *Identity) CheckUser(what string) error {
	return allow(id.IsUser(), "%s: users only", what)
}

// CheckReadTenant allows the tenant's users and global administrators.
func (id *Identity) CheckReadTenant(tenant string) error {
	return allow(id.InTenant(tenant), "tenant %q", tenant)
}

// CheckAdminTenant allows the tenant's administrators.
func (id *Identity) CheckAdminTenant(tenant string) error {
	return allow(id.AdminsTenant(tenant), "tenant %q: administrators only", tenant)
}

// CheckReadTeam allows the team's members and administrators.
func (id *Identity) CheckReadTeam(t *structs.Team) error {
	return allow(id.AdminsTeam(t.Tenant, t.Name) || id.MemberOf(t.Tenant, t.Name),
		"team %q of tenant %q", t.Name, t.Tenant)
}

// CheckWriteTeam allows tenant administrators to create, change and delete
// teams (next nil for a delete), and a team's administrators to change its
// members but not its admin list. old is nil for a new team.
func (id *Identity) CheckWriteTeam(old, next *structs.Team) error {
	ref := next
	if ref == nil {
		ref = old
	}
	if id.AdminsTenant(ref.Tenant) && (old == nil || id.AdminsTenant(old.Tenant)) {
		return nil
	}
	if old != nil && next != nil && id.AdminsTeamDirectly(old.Tenant, old.Name) &&
		old.Tenant == next.Tenant && old.Name == next.Name && sameSet(old.Admins, next.Admins) {
		return nil
	}
	return forbidden("team %q of tenant %q: not its administrator", ref.Name, ref.Tenant)
}

// CheckReadUser allows the user, administrators of their tenant and
// administrators of one of their teams.
func (id *Identity) CheckReadUser(u *structs.User) error {
	ok := (id.IsUser() && id.Username == u.Username) || id.AdminsTenant(u.Tenant) ||
		id.adminsAnyOf(u.Tenant, u.Teams)
	return allow(ok, "user %q", u.Username)
}

// managesUser reports whether a team administrator manages u: a plain user
// of their tenant in one of their teams.
func (id *Identity) managesUser(u *structs.User) bool {
	return u.Role == structs.RoleUser && id.adminsAnyOf(u.Tenant, u.Teams)
}

// CheckWriteUser checks creating (old nil), changing or deleting (next nil)
// a user. Tenant administrators manage their tenant's users. A team
// administrator manages plain users of their teams and may change only
// their membership of those teams. Users may change their own email and
// password.
func (id *Identity) CheckWriteUser(old, next *structs.User) error {
	ref := next
	if ref == nil {
		ref = old
	}
	if id.AdminsTenant(ref.Tenant) && (old == nil || id.AdminsTenant(old.Tenant)) {
		return nil
	}
	switch {
	case next == nil: // delete
		if id.managesUser(old) {
			return nil
		}
	case old == nil: // create
		if next.Role == structs.RoleUser && next.Tenant == id.Tenant && len(next.Teams) > 0 &&
			id.allAdministered(next.Tenant, next.Teams) {
			return nil
		}
	default:
		if old.Username == id.Username && id.IsUser() && selfEditable(old, next) {
			return nil
		}
		if id.managesUser(old) && next.Role == structs.RoleUser && next.Tenant == old.Tenant &&
			id.onlyOwnTeamsChanged(old, next) && sameSet(old.Groups, next.Groups) &&
			old.Identity == next.Identity {
			return nil
		}
	}
	return forbidden("user %q: not their administrator", ref.Username)
}

// CheckUserKeys allows managing u's API keys: u themself and whoever may
// change or delete u.
func (id *Identity) CheckUserKeys(u *structs.User) error {
	if id.IsUser() && id.Username == u.Username {
		return nil
	}
	if id.AdminsTenant(u.Tenant) || id.managesUser(u) {
		return nil
	}
	return forbidden("api keys of user %q", u.Username)
}

func (id *Identity) allAdministered(tenant string, teams []string) bool {
	for _, t := range teams {
		if !id.AdminsTeamDirectly(tenant, t) {
			return false
		}
	}
	return true
}

// onlyOwnTeamsChanged reports whether next differs from old only in teams
// the caller administers.
func (id *Identity) onlyOwnTeamsChanged(old, next *structs.User) bool {
	for _, t := range old.Teams {
		if !slices.Contains(next.Teams, t) && !id.AdminsTeamDirectly(old.Tenant, t) {
			return false
		}
	}
	for _, t := range next.Teams {
		if !slices.Contains(old.Teams, t) && !id.AdminsTeamDirectly(old.Tenant, t) {
			return false
		}
	}
	return true
}

// selfEditable reports whether next changes only what users may change of
// themselves: email and password.
func selfEditable(old, next *structs.User) bool {
	return old.Tenant == next.Tenant && old.Role == next.Role && sameSet(old.Teams, next.Teams) &&
		sameSet(old.Groups, next.Groups) && old.Identity == next.Identity && old.Disabled == next.Disabled
}

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

// CheckReadVault allows the vault's tenant.
func (id *Identity) CheckReadVault(v *structs.Vault) error {
	// An agent reads vaults: it mounts the vault of a job it runs.
	return allow(id.InTenant(v.Tenant) || id.IsAgent(), "vault %q of tenant %q", v.Name, v.Tenant)
}

// CheckWriteVault allows the vault's tenant administrators.
func (id *Identity) CheckWriteVault(v *structs.Vault) error {
	return allow(id.AdminsTenant(v.Tenant), "vault %q of tenant %q: administrators only", v.Name, v.Tenant)
}

// CheckUseApp allows seeing and running an app: public apps for everyone,
// tenant apps for their tenant, private apps for their owner and the
// tenant's administrators.
func (id *Identity) CheckUseApp(a *structs.App) error {
	var ok bool
	switch a.Visibility {
	case structs.VisibilityPublic:
		ok = id.IsUser()
	case structs.VisibilityTenant:
		ok = id.InTenant(a.Tenant)
	case structs.VisibilityTeam:
		ok = id.MemberOf(a.Tenant, a.Team) || id.AdminsTeam(a.Tenant, a.Team) || (id.InTenant(a.Tenant) && a.Owner == id.Username)
	default:
		ok = id.AdminsTenant(a.Tenant) || (id.InTenant(a.Tenant) && a.Owner == id.Username)
	}
	// An agent reads any app: a job of it may be assigned to its cluster.
	return allow(ok || id.IsGlobalAdmin() || id.IsAgent(), "app %q", a.Name)
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

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// CheckUseMachineType allows a machine type to users of one of its
// groups (mc_privs), or to all when it lists none.
func (id *Identity) CheckUseMachineType(m *structs.MachineType) error {
	// An agent reads the machine types pinned to its cluster: it runs them.
	ok := id.IsGlobalAdmin() || (id.IsUser() && len(m.Privs) == 0) || (id.IsAgent() && m.Cluster == id.Cluster)
	for _, g := range m.Privs {
		ok = ok || (id.IsUser() && slices.Contains(id.Groups, g))
	}
	return allow(ok, "machine type %q", m.Name)
}
