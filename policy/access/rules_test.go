package access

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func fixtures() (users map[string]*structs.User, apps map[string]*structs.App, mts map[string]*structs.MachineType, clusters map[string]*structs.Cluster) {
	users = map[string]*structs.User{
		"alice": {Username: "alice", Tenant: "acme", Groups: []string{"us-persons", "gpu"}},
		"bob":   {Username: "bob", Tenant: "acme"},
		"gus":   {Username: "gus", Tenant: "globex", Groups: []string{"us-persons"}},
	}
	apps = map[string]*structs.App{
		"solver":  {Name: "solver", Visibility: structs.VisibilityPublic},
		"itar":    {Name: "itar-cfd", Visibility: structs.VisibilityPublic},
		"inhouse": {Name: "inhouse", Tenant: "acme", Visibility: structs.VisibilityTenant},
		"mine":    {Name: "mine", Owner: "alice", Tenant: "acme", Visibility: structs.VisibilityPrivate},
	}
	mts = map[string]*structs.MachineType{
		"cpu-east": {Name: "cpu-east", Cores: 8, Cluster: "east"},
		"gpu-east": {Name: "gpu-east", Cores: 8, GPUs: 4, Cluster: "east", Privs: []string{"gpu"}},
		"cpu-eu":   {Name: "cpu-eu", Cores: 8, Cluster: "eu"},
	}
	clusters = map[string]*structs.Cluster{
		"east": {Name: "east", Zone: "us-east", Labels: map[string]string{"region": "us"}},
		"eu":   {Name: "eu", Zone: "eu-west", Labels: map[string]string{"region": "eu"}},
		"gov":  {Name: "gov", Zone: "us-gov", Labels: map[string]string{"region": "us", "tier": "gov"}},
	}
	return users, apps, mts, clusters
}

var rules = []*structs.AccessRule{
	{Name: "itar-us-persons", Object: structs.AccessObjectApp, Match: "itar-*", Groups: []string{"us-persons"},
		ClusterLabels: map[string]string{"region": "us"}},
	{Name: "itar-acme", Object: structs.AccessObjectApp, Match: "itar-*", Tenants: []string{"acme"}},
	{Name: "gov-cluster", Object: structs.AccessObjectCluster, Match: "gov", Groups: []string{"gov"}},
	{Name: "secret-vault", Object: structs.AccessObjectVault, Match: "acme/secret*", Groups: []string{"us-persons"},
		ClusterLabels: map[string]string{"region": "us"}},
	{Name: "eu-machines", Object: structs.AccessObjectMachineType, Match: "*-eu", Tenants: []string{"globex"}},
	{Name: "off", Object: structs.AccessObjectApp, Match: "*", Groups: []string{"nobody"}, Disabled: true},
}

func TestCheckSubmit(t *testing.T) {
	users, apps, mts, _ := fixtures()
	vault := func(tenant, name string) *structs.Vault { return &structs.Vault{Tenant: tenant, Name: name} }
	tests := map[string]struct {
		user, app, mt string
		tenant        string // job tenant; the user's when empty
		vault         *structs.Vault
		want          *DeniedError // nil: allowed
	}{
		"public app":            {user: "bob", app: "solver", mt: "cpu-east"},
		"other tenant's job":    {user: "bob", app: "solver", mt: "cpu-east", tenant: "globex", want: &DeniedError{Rule: RuleTenant, Object: "tenant", Name: "globex", Reason: "user bob is not in this tenant"}},
		"tenant app, own":       {user: "bob", app: "inhouse", mt: "cpu-east"},
		"tenant app, other":     {user: "gus", app: "inhouse", mt: "cpu-east", want: &DeniedError{Rule: RuleAppVisibility, Object: "app", Name: "inhouse", Reason: "visible to tenant acme only"}},
		"private app, owner":    {user: "alice", app: "mine", mt: "cpu-east"},
		"private app, other":    {user: "bob", app: "mine", mt: "cpu-east", want: &DeniedError{Rule: RuleAppVisibility, Object: "app", Name: "mine", Reason: "private to alice"}},
		"export control ok":     {user: "alice", app: "itar", mt: "cpu-east"},
		"export control group":  {user: "bob", app: "itar", mt: "cpu-east", want: &DeniedError{Rule: "itar-us-persons", Object: "app", Name: "itar-cfd", Reason: "only for groups us-persons"}},
		"export control tenant": {user: "gus", app: "itar", mt: "cpu-east", want: &DeniedError{Rule: "itar-acme", Object: "app", Name: "itar-cfd", Reason: "only for tenants acme, not globex"}},
		"machine privs ok":      {user: "alice", app: "solver", mt: "gpu-east"},
		"machine privs":         {user: "bob", app: "solver", mt: "gpu-east", want: &DeniedError{Rule: RuleMachineTypePriv, Object: "machine_type", Name: "gpu-east", Reason: "only for groups gpu"}},
		"machine rule":          {user: "bob", app: "solver", mt: "cpu-eu", want: &DeniedError{Rule: "eu-machines", Object: "machine_type", Name: "cpu-eu", Reason: "only for tenants globex, not acme"}},
		"vault of other tenant": {user: "gus", app: "solver", mt: "cpu-east", vault: vault("acme", "data"), want: &DeniedError{Rule: RuleVaultTenant, Object: "vault", Name: "acme/data", Reason: "belongs to another tenant"}},
		"vault rule":            {user: "bob", app: "solver", mt: "cpu-east", vault: vault("acme", "secret-1"), want: &DeniedError{Rule: "secret-vault", Object: "vault", Name: "acme/secret-1", Reason: "only for groups us-persons"}},
		"vault rule ok":         {user: "alice", app: "solver", mt: "cpu-east", vault: vault("acme", "secret-1")},
	}
	rs := New(rules)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			u := users[tc.user]
			tenant := tc.tenant
			if tenant == "" {
				tenant = u.Tenant
			}
			j := &structs.Job{ID: "j", Tenant: tenant, Owner: u.Username, App: apps[tc.app].Name, MachineType: tc.mt}
			err := rs.CheckSubmit(UserSubject(u), j, apps[tc.app], mts[tc.mt], tc.vault)
			checkDenied(t, tc.want, err)
		})
	}
	if err := rs.CheckSubmit(UserSubject(users["bob"]), &structs.Job{App: "gone"}, nil, mts["cpu-east"], nil); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("missing app: %v", err)
	}
}

func checkDenied(t *testing.T, want *DeniedError, err error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("denied: %v", err)
		}
		return
	}
	var got *DeniedError
	if !errors.As(err, &got) {
		t.Fatalf("error %v is not a *DeniedError", err)
	}
	if !errors.Is(err, structs.ErrForbidden) {
		t.Errorf("error %v is not ErrForbidden", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("denial (-want +got):\n%s", diff)
	}
}

func TestClusterAllowed(t *testing.T) {
	users, apps, mts, clusters := fixtures()
	tests := map[string]struct {
		user, app, mt, cluster, vault string
		want                          *DeniedError
	}{
		"unrestricted app anywhere": {user: "bob", app: "solver", mt: "cpu-eu", cluster: "eu"},
		"export control in region":  {user: "alice", app: "itar", mt: "cpu-east", cluster: "east"},
		"export control abroad": {user: "alice", app: "itar", mt: "cpu-eu", cluster: "eu", want: &DeniedError{Rule: "itar-us-persons",
			Object: "cluster", Name: "eu", Reason: "jobs using app itar-* need cluster label region=us"}},
		"cluster for a group": {user: "alice", app: "solver", mt: "cpu-east", cluster: "gov", want: &DeniedError{Rule: "gov-cluster",
			Object: "cluster", Name: "gov", Reason: "only for groups gov"}},
		"unknown user fails closed": {app: "solver", mt: "cpu-east", cluster: "gov", want: &DeniedError{Rule: "gov-cluster",
			Object: "cluster", Name: "gov", Reason: "only for groups gov"}},
		"vault region": {user: "alice", app: "solver", mt: "cpu-eu", cluster: "eu", vault: "secret-2", want: &DeniedError{Rule: "secret-vault",
			Object: "cluster", Name: "eu", Reason: "jobs using vault acme/secret* need cluster label region=us"}},
		"other vault": {user: "alice", app: "solver", mt: "cpu-eu", cluster: "eu", vault: "scratch"},
	}
	rs := New(rules)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			j := &structs.Job{ID: "j", Tenant: "acme", Owner: tc.user, App: apps[tc.app].Name, MachineType: "cpu-east", Vault: tc.vault}
			checkDenied(t, tc.want, rs.ClusterAllowed(UserSubject(users[tc.user]), j, apps[tc.app], mts[tc.mt], clusters[tc.cluster]))
		})
	}
}

func TestDeniedErrorText(t *testing.T) {
	err := error(&DeniedError{Rule: "r", Object: "app", Name: "a", Reason: "only for groups g"})
	if got, want := err.Error(), "app a: only for groups g (rule r): forbidden"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if structs.KindOf(err) != structs.ErrForbidden {
		t.Errorf("kind %v", structs.KindOf(err))
	}
}

// TestNamesApp: an app is named when an enabled app rule's pattern
// matches it; rules on other objects, disabled rules and a nil rule set
// name none.
func TestNamesApp(t *testing.T) {
	rs := New(append(rules,
		&structs.AccessRule{Name: "off", Object: structs.AccessObjectApp, Match: "draft-*", Groups: []string{"g"}, Disabled: true},
		&structs.AccessRule{Name: "mt", Object: structs.AccessObjectMachineType, Match: "solver", Groups: []string{"g"}}))
	for name, want := range map[string]bool{"itar-cfd": true, "solver": false, "draft-1": false, "inhouse": false} {
		if got := rs.NamesApp(name); got != want {
			t.Errorf("NamesApp(%q) = %v, want %v", name, got, want)
		}
	}
	var none *Rules
	if none.NamesApp("itar-cfd") {
		t.Error("a nil rule set names an app")
	}
}
