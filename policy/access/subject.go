package access

import (
	"slices"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Subject is who asks for access: a user as access decisions see them.
// The zero Subject is nobody (an agent, an unknown user): it sees no app
// or vault and passes no group condition.
type Subject struct {
	Username string
	Tenant   string
	// Groups grant access to apps, data and machine types.
	Groups []string
	// Teams are the subject's teams in Tenant; AdminTeams those it
	// administers as a team administrator (team-visible apps).
	Teams      []string
	AdminTeams []string
	// TenantAdmin: the subject administers Tenant (sees its private apps).
	TenantAdmin bool
	// Global: the subject administers the whole hub (sees and uses every
	// app, machine type and vault; named access rules still apply).
	Global bool
}

// UserSubject is a user as placement knows them: by their record, with no
// administrator's rights (nil: nobody).
func UserSubject(u *structs.User) Subject {
	if u == nil {
		return Subject{}
	}
	return Subject{Username: u.Username, Tenant: u.Tenant, Groups: u.Groups, Teams: u.Teams}
}

func (s Subject) isUser() bool { return s.Username != "" }

// inGroup reports whether the subject is in one of groups.
func (s Subject) inGroup(groups []string) bool {
	return slices.ContainsFunc(s.Groups, func(g string) bool { return slices.Contains(groups, g) })
}

// inTenant reports whether the subject sees tenant's shared objects.
func (s Subject) inTenant(tenant string) bool {
	return s.Global || (s.isUser() && tenant != "" && s.Tenant == tenant)
}

// AppVisible decides whether s may see and run app a (the built-in rule;
// submission adds the named rules, see CheckSubmit).
func AppVisible(s Subject, a *structs.App) error {
	deny := func(reason string) error {
		return &DeniedError{Rule: RuleAppVisibility, Object: structs.AccessObjectApp, Name: a.Name, Reason: reason}
	}
	switch {
	case s.Global:
		return nil
	case !s.isUser():
		return deny("users only")
	}
	switch a.Visibility {
	case structs.VisibilityPublic:
		return nil
	case structs.VisibilityTenant:
		if !s.inTenant(a.Tenant) {
			return deny("visible to tenant " + a.Tenant + " only")
		}
		return nil
	case structs.VisibilityTeam:
		inTeam := a.Team != "" && (slices.Contains(s.Teams, a.Team) || slices.Contains(s.AdminTeams, a.Team))
		if !s.inTenant(a.Tenant) || (!inTeam && a.Owner != s.Username && !s.TenantAdmin) {
			return deny("visible to team " + a.Team + " of tenant " + a.Tenant + " only")
		}
		return nil
	case structs.VisibilityPrivate:
		if !s.inTenant(a.Tenant) || (a.Owner != s.Username && !s.TenantAdmin) {
			return deny("private to " + a.Owner)
		}
		return nil
	}
	return deny("unknown visibility " + string(a.Visibility))
}

// MachineTypeUsable decides whether s may run on machine type mt by its
// Privs (the built-in rule).
func MachineTypeUsable(s Subject, mt *structs.MachineType) error {
	if s.Global || len(mt.Privs) == 0 || s.inGroup(mt.Privs) {
		return nil
	}
	return &DeniedError{Rule: RuleMachineTypePriv, Object: structs.AccessObjectMachineType, Name: mt.Name,
		Reason: "only for groups " + strings.Join(mt.Privs, ", ")}
}

// VaultVisible decides whether s may see vault v: its tenant's users.
func VaultVisible(s Subject, v *structs.Vault) error {
	if s.inTenant(v.Tenant) {
		return nil
	}
	return &DeniedError{Rule: RuleVaultTenant, Object: structs.AccessObjectVault, Name: VaultName(v.Tenant, v.Name),
		Reason: "belongs to another tenant"}
}
