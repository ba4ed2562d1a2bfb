package authz

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
// administrator manages plain users of their teams: creates them in
// their teams, changes their membership of those teams, their email,
// their identity (CheckSetIdentity also applies) and whether they are
// disabled, deletes them — but never their credentials (CheckCredentials).
// Users may change their own email (and their credentials).
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
			id.onlyOwnTeamsChanged(old, next) && sameSet(old.Groups, next.Groups) {
			return nil
		}
	}
	return forbidden("user %q: not their administrator", ref.Username)
}

// CheckCredentials allows managing u's credentials — creating, listing
// and revoking their API keys, setting their password: u themself and
// the administrators of u's tenant. A team administrator manages their
// members but never acts as one: a key or password they set would let
// them.
func (id *Identity) CheckCredentials(u *structs.User) error {
	if (id.IsUser() && id.Username == u.Username) || id.AdminsTenant(u.Tenant) {
		return nil
	}
	return forbidden("credentials of user %q: the user or their tenant's administrators only", u.Username)
}

// CheckSetIdentity allows giving user next (old as stored, nil when new)
// a uid/gid other than the stored one, in tenant t (nil if unknown):
// global administrators always; whoever else may write the user
// (CheckWriteUser) only when t has an id range, which the state machine
// holds the identity to (inside it, unique in it).
func (id *Identity) CheckSetIdentity(t *structs.Tenant, old, next *structs.User) error {
	var was structs.Identity
	if old != nil {
		was = old.Identity
	}
	if next.Identity == was || id.IsGlobalAdmin() {
		return nil
	}
	if t == nil || t.IDRange.IsZero() {
		return forbidden("user %q: tenant %q has no id range, so only a global administrator sets its users' uid/gid",
			next.Username, next.Tenant)
	}
	return nil
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
