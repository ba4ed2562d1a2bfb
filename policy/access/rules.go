package access

import (
	"cmp"
	"path"
	"slices"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Rules is a compiled, read-only set of access rules. Its methods are safe
// for concurrent use.
type Rules struct {
	byObject map[structs.AccessObject][]*structs.AccessRule // enabled rules, by name
}

// New compiles rules; disabled and nil rules are left out. The rules are
// not copied: callers must not change them while the Rules is in use.
func New(rules []*structs.AccessRule) *Rules {
	rs := &Rules{byObject: make(map[structs.AccessObject][]*structs.AccessRule)}
	for _, r := range rules {
		if r != nil && !r.Disabled {
			rs.byObject[r.Object] = append(rs.byObject[r.Object], r)
		}
	}
	for _, v := range rs.byObject {
		slices.SortFunc(v, func(a, b *structs.AccessRule) int { return cmp.Compare(a.Name, b.Name) })
	}
	return rs
}

// matching returns the rules on objects of kind obj whose pattern matches name.
func (rs *Rules) matching(obj structs.AccessObject, name string, visit func(*structs.AccessRule) error) error {
	if rs == nil {
		return nil
	}
	for _, r := range rs.byObject[obj] {
		if ok, err := path.Match(r.Match, name); err == nil && ok {
			if err := visit(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// who checks the user and tenant conditions of rule r.
func who(r *structs.AccessRule, s Subject, tenant, name string) error {
	if len(r.Groups) > 0 && !s.inGroup(r.Groups) {
		return &DeniedError{Rule: r.Name, Object: r.Object, Name: name,
			Reason: "only for groups " + strings.Join(r.Groups, ", ")}
	}
	if len(r.Tenants) > 0 && !slices.Contains(r.Tenants, tenant) {
		return &DeniedError{Rule: r.Name, Object: r.Object, Name: name,
			Reason: "only for tenants " + strings.Join(r.Tenants, ", ") + ", not " + tenant}
	}
	return nil
}

// VaultName is how access rules name a vault: "<tenant>/<vault>".
func VaultName(tenant, vault string) string { return tenant + "/" + vault }

// CheckSubmit decides whether s may submit job j of app a on machine type
// mt with vault v (nil when the job uses none): nil or a *DeniedError (an
// ErrNotFound error when a or mt is nil). The job is s's own tenant's;
// s must see the app, may use the machine type, and the vault is the
// job's tenant's; then the named rules on each must pass. Where the job
// may run is decided at placement by ClusterAllowed.
func (rs *Rules) CheckSubmit(s Subject, j *structs.Job, a *structs.App, mt *structs.MachineType, v *structs.Vault) error {
	switch {
	case a == nil:
		return structs.Errorf(structs.ErrNotFound, "app %q", j.App)
	case mt == nil:
		return structs.Errorf(structs.ErrNotFound, "machine type %q", j.MachineType)
	case !s.isUser() || s.Tenant != j.Tenant:
		return &DeniedError{Rule: RuleTenant, Object: "tenant", Name: j.Tenant,
			Reason: "user " + s.Username + " is not in this tenant"}
	}
	if err := AppVisible(s, a); err != nil {
		return err
	}
	if err := rs.matching(structs.AccessObjectApp, a.Name, func(r *structs.AccessRule) error {
		return who(r, s, j.Tenant, a.Name)
	}); err != nil {
		return err
	}
	if err := rs.MachineTypeAllowed(s, j, mt); err != nil {
		return err
	}
	if v == nil {
		return nil
	}
	name := VaultName(v.Tenant, v.Name)
	if v.Tenant != j.Tenant {
		return &DeniedError{Rule: RuleVaultTenant, Object: structs.AccessObjectVault, Name: name,
			Reason: "belongs to another tenant"}
	}
	return rs.matching(structs.AccessObjectVault, name, func(r *structs.AccessRule) error {
		return who(r, s, j.Tenant, name)
	})
}

// MachineTypeAllowed decides whether s may run job j on machine type mt:
// its Privs and the machine type rules. Placement calls it for burst
// targets, which the user did not pick.
func (rs *Rules) MachineTypeAllowed(s Subject, j *structs.Job, mt *structs.MachineType) error {
	if err := MachineTypeUsable(s, mt); err != nil {
		return err
	}
	return rs.matching(structs.AccessObjectMachineType, mt.Name, func(r *structs.AccessRule) error {
		return who(r, s, j.Tenant, mt.Name)
	})
}

// ClusterAllowed decides whether job j of s (the zero Subject if the
// owner is unknown) running app a may run on cluster c as machine type
// mt: the cluster rules must admit s, and c must carry the ClusterLabels
// of every rule on the job's app, its vault and mt. A nil a stands for
// j.App, a nil mt for the job's effective machine type.
func (rs *Rules) ClusterAllowed(s Subject, j *structs.Job, a *structs.App, mt *structs.MachineType, c *structs.Cluster) error {
	if err := rs.matching(structs.AccessObjectCluster, c.Name, func(r *structs.AccessRule) error {
		return who(r, s, j.Tenant, c.Name)
	}); err != nil {
		return err
	}
	labels := func(r *structs.AccessRule) error {
		for _, k := range sortedKeys(r.ClusterLabels) {
			if got, ok := c.Labels[k]; !ok || got != r.ClusterLabels[k] {
				return &DeniedError{Rule: r.Name, Object: structs.AccessObjectCluster, Name: c.Name,
					Reason: "jobs using " + string(r.Object) + " " + r.Match + " need cluster label " + k + "=" + r.ClusterLabels[k]}
			}
		}
		return nil
	}
	appName := j.App
	if a != nil {
		appName = a.Name
	}
	if err := rs.matching(structs.AccessObjectApp, appName, labels); err != nil {
		return err
	}
	mtName := j.EffectiveMachineType()
	if mt != nil {
		mtName = mt.Name
	}
	if err := rs.matching(structs.AccessObjectMachineType, mtName, labels); err != nil {
		return err
	}
	if j.Vault != "" {
		return rs.matching(structs.AccessObjectVault, VaultName(j.Tenant, j.Vault), labels)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// NamesApp reports whether an enabled app rule's pattern matches the app
// name: the app is restricted to some users, tenants or clusters.
func (rs *Rules) NamesApp(name string) bool {
	named := false
	_ = rs.matching(structs.AccessObjectApp, name, func(*structs.AccessRule) error {
		named = true
		return nil
	})
	return named
}
