package access

import (
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestVisibility: who sees which app, machine type and vault — the
// built-in rules every listing and every submission uses.
func TestVisibility(t *testing.T) {
	_, apps, mts, _ := fixtures()
	subjects := map[string]Subject{
		"alice":  {Username: "alice", Tenant: "acme", Groups: []string{"us-persons", "gpu"}},
		"bob":    {Username: "bob", Tenant: "acme"},
		"admin":  {Username: "ada", Tenant: "acme", TenantAdmin: true},
		"gus":    {Username: "gus", Tenant: "globex"},
		"global": {Username: "root", Tenant: "system", TenantAdmin: true, Global: true},
		"agent":  {},
	}
	vault := &structs.Vault{Tenant: "acme", Name: "data"}
	tests := map[string]struct {
		check func(Subject) error
		allow []string
	}{
		"public app":            {func(s Subject) error { return AppVisible(s, apps["solver"]) }, []string{"alice", "bob", "admin", "gus", "global"}},
		"tenant app":            {func(s Subject) error { return AppVisible(s, apps["inhouse"]) }, []string{"alice", "bob", "admin", "global"}},
		"private app":           {func(s Subject) error { return AppVisible(s, apps["mine"]) }, []string{"alice", "admin", "global"}},
		"unknown visibility":    {func(s Subject) error { return AppVisible(s, &structs.App{Name: "x", Visibility: "secret"}) }, []string{"global"}},
		"machine type":          {func(s Subject) error { return MachineTypeUsable(s, mts["cpu-east"]) }, []string{"alice", "bob", "admin", "gus", "global", "agent"}},
		"machine type by group": {func(s Subject) error { return MachineTypeUsable(s, mts["gpu-east"]) }, []string{"alice", "global"}},
		"vault":                 {func(s Subject) error { return VaultVisible(s, vault) }, []string{"alice", "bob", "admin", "global"}},
	}
	for name, tc := range tests {
		for who, s := range subjects {
			err := tc.check(s)
			allowed := false
			for _, a := range tc.allow {
				allowed = allowed || a == who
			}
			if allowed && err != nil {
				t.Errorf("%s as %s: %v", name, who, err)
			}
			if !allowed && (err == nil || structs.KindOf(err) != structs.ErrForbidden) {
				t.Errorf("%s as %s: %v, want a denial", name, who, err)
			}
		}
	}
}

// TestSubmitAsGlobalAdmin: a global administrator submits with any app and
// machine type of the hub, but the administrators' named rules bind them
// like everyone.
func TestSubmitAsGlobalAdmin(t *testing.T) {
	_, apps, mts, _ := fixtures()
	root := Subject{Username: "root", Tenant: "system", Global: true}
	rs := New(rules)
	job := func(app, mt string) *structs.Job {
		return &structs.Job{ID: "j", Tenant: "system", Owner: "root", App: app, MachineType: mt}
	}
	if err := rs.CheckSubmit(root, job("mine", "gpu-east"), apps["mine"], mts["gpu-east"], nil); err != nil {
		t.Errorf("private app of another tenant on a group's machine type: %v", err)
	}
	checkDenied(t, &DeniedError{Rule: "itar-acme", Object: "app", Name: "itar-cfd", Reason: "only for tenants acme, not system"},
		rs.CheckSubmit(root, job("itar-cfd", "cpu-east"), apps["itar"], mts["cpu-east"], nil))
	checkDenied(t, &DeniedError{Rule: RuleTenant, Object: "tenant", Name: "acme", Reason: "user root is not in this tenant"},
		rs.CheckSubmit(root, &structs.Job{ID: "j", Tenant: "acme", App: "solver", MachineType: "cpu-east"}, apps["solver"], mts["cpu-east"], nil))
}
