package authz

import (
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
)

// Identity is an authenticated caller: a user (Username set) or a cluster
// agent (Cluster set). Identities are built per request and never changed.
type Identity struct {
	Username string
	Tenant   string
	Role     structs.Role
	// Teams are the teams (of Tenant) the user is a member of.
	Teams []string
	// AdminTeams are the teams a team administrator administers: those
	// listing the user among their admins. Empty for other roles.
	AdminTeams []string
	// Groups grant access to apps, data and machine types.
	Groups []string
	// Global is set for administrators of the system tenant, who may do
	// everything.
	Global bool
	// Cluster is set, and the user fields empty, for a cluster's agent.
	Cluster string
	// KeyID is the id of the user API key the caller authenticated with,
	// "" for other credentials (for the key's last-used time).
	KeyID string
	// Service is set for a service account (then Username is its subject,
	// "sa:<tenant>/<name>", Role user and Teams its team): what it may
	// submit is narrowed to its scope.
	Service *structs.ServiceAccount
}

// Subject names the caller for audit records and messages: the username,
// or "cluster:<name>" for an agent.
func (id *Identity) Subject() string {
	if id.Cluster != "" {
		return "cluster:" + id.Cluster
	}
	return id.Username
}

// IsAgent reports whether the caller is a cluster agent.
func (id *Identity) IsAgent() bool { return id.Cluster != "" }

// IsUser reports whether the caller is a user (not an agent).
func (id *Identity) IsUser() bool { return id.Cluster == "" && id.Username != "" }

// IsGlobalAdmin reports whether the caller may do everything.
func (id *Identity) IsGlobalAdmin() bool { return id.Global && id.IsUser() }

// InTenant reports whether the caller may see tenant's shared objects:
// global administrators and the tenant's own users.
func (id *Identity) InTenant(tenant string) bool {
	return id.IsGlobalAdmin() || (id.IsUser() && tenant != "" && id.Tenant == tenant)
}

// AdminsTenant reports whether the caller administers tenant.
func (id *Identity) AdminsTenant(tenant string) bool {
	return id.IsGlobalAdmin() || (id.InTenant(tenant) && id.Role == structs.RoleAdmin)
}

// AdminsTeamDirectly reports whether the caller is a team administrator of
// team (in tenant) — not merely an administrator of its tenant.
func (id *Identity) AdminsTeamDirectly(tenant, team string) bool {
	return id.IsUser() && team != "" && id.Tenant == tenant && id.Role == structs.RoleTeamAdmin &&
		slices.Contains(id.AdminTeams, team)
}

// AdminsTeam reports whether the caller administers team of tenant, as
// its team administrator or an administrator of the tenant.
func (id *Identity) AdminsTeam(tenant, team string) bool {
	return id.AdminsTenant(tenant) || id.AdminsTeamDirectly(tenant, team)
}

// MemberOf reports whether the caller is a member of team of tenant.
func (id *Identity) MemberOf(tenant, team string) bool {
	return id.IsUser() && team != "" && id.Tenant == tenant && slices.Contains(id.Teams, team)
}

// adminsAnyOf reports whether the caller team-administers one of teams.
func (id *Identity) adminsAnyOf(tenant string, teams []string) bool {
	for _, t := range teams {
		if id.AdminsTeamDirectly(tenant, t) {
			return true
		}
	}
	return false
}

// Access is the caller as policy/access sees them, to ask whether they
// may see or use an app, a vault or a machine type. An agent is no user:
// its access.Subject is the zero one.
func (id *Identity) Access() access.Subject {
	if !id.IsUser() {
		return access.Subject{}
	}
	var adminTeams []string
	if id.Role == structs.RoleTeamAdmin {
		adminTeams = id.AdminTeams
	}
	return access.Subject{Username: id.Username, Tenant: id.Tenant, Groups: id.Groups,
		Teams: id.Teams, AdminTeams: adminTeams, TenantAdmin: id.AdminsTenant(id.Tenant), Global: id.IsGlobalAdmin()}
}
