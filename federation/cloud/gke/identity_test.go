package gke

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
	"github.com/flotilla-hpc/flotilla/federation/cloud/cloudtest"
)

// identityFake starts the GKE fake and a provider whose REST calls go to
// it with a token its token endpoint issued.
func identityFake(t *testing.T) (*cloudtest.GKE, *Provider, *cloud.Spec) {
	t.Helper()
	f, err := cloudtest.NewGKE()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	resp, err := http.PostForm(f.TokenURL, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {"a"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok oauth2.Token
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		t.Fatal(err)
	}
	p := New(nil, oauth2.StaticTokenSource(&tok), Options{IAMURL: f.IAMURL, ResourceManagerURL: f.ResourceManagerURL, PollInterval: 5 * time.Millisecond})
	return f, p, &cloud.Spec{Name: "gcp-1", Project: f.Project}
}

func nop(string) {}

// TestAgentRoleAfterDown: a role down deleted lingers in IAM (its ID is
// refused for 7 days); the next up undeletes it, and a second delete of
// a deleted role is not an error.
func TestAgentRoleAfterDown(t *testing.T) {
	ctx := context.Background()
	f, p, spec := identityFake(t)
	name, err := p.createAgentRole(ctx, spec, nop)
	if err != nil || name != "projects/hpc-project/roles/flotilla_gcp_1_agent" {
		t.Fatalf("create: %q %v", name, err)
	}
	for range 2 {
		if err := p.deleteAgentRole(ctx, name); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	var statuses []string
	if _, err := p.createAgentRole(ctx, spec, func(s string) { statuses = append(statuses, s) }); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
	want := []string{"CreateRole flotilla_gcp_1_agent", "DeleteRole flotilla_gcp_1_agent", "UndeleteRole flotilla_gcp_1_agent"}
	if diff := cmp.Diff(want, f.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if r, _ := f.Role(name); r.Deleted || !slices.Equal(r.IncludedPermissions, AgentPermissions) {
		t.Errorf("role %+v", r)
	}
	if len(statuses) != 1 || !strings.Contains(statuses[0], "undeleting") {
		t.Errorf("statuses %q", statuses)
	}
}

// TestAgentRoleTakenByName: a role of the agent's name already there
// (an interrupted run, or edited by hand) is taken and its permissions
// set to exactly the agent's.
func TestAgentRoleTakenByName(t *testing.T) {
	ctx := context.Background()
	f, p, spec := identityFake(t)
	body := map[string]any{"roleId": AgentRoleID(spec.Name), "role": map[string]any{"title": "x",
		"includedPermissions": []string{"container.clusters.list"}}}
	if err := p.call(ctx, "POST", f.IAMURL+"/v1/projects/hpc-project/roles", body, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.createAgentRole(ctx, spec, nop); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"CreateRole flotilla_gcp_1_agent", "UpdateRole flotilla_gcp_1_agent"}, f.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if r, _ := f.Role(AgentRole(spec.Project, spec.Name)); !slices.Equal(r.IncludedPermissions, AgentPermissions) {
		t.Errorf("permissions %v", r.IncludedPermissions)
	}
}

// TestAgentBindingConflicts: concurrent changes of the policy are read
// again and kept; when they never stop, the error is one sentence with
// Google's ABORTED.
func TestAgentBindingConflicts(t *testing.T) {
	ctx := context.Background()
	f, p, spec := identityFake(t)
	if _, err := p.createAgentRole(ctx, spec, nop); err != nil {
		t.Fatal(err)
	}
	f.PolicyConflicts(3)
	id, err := p.createAgentBinding(ctx, spec, nop)
	if err != nil {
		t.Fatal(err)
	}
	member := KSAPrincipal(f.ProjectNumber, f.Project, cloud.AgentNamespace, cloud.AgentName)
	if id != AgentRole(spec.Project, spec.Name)+" "+member {
		t.Errorf("binding id %q", id)
	}
	pol := f.Policy()
	if len(pol.Bindings) != 4 || pol.Bindings[3].Members[0] != member {
		t.Errorf("policy after 3 conflicts: %+v", pol.Bindings)
	}
	f.PolicyConflicts(policyAttempts)
	err = p.deleteAgentBinding(ctx, spec, id, nop)
	if cloud.ErrorCode(err) != "ABORTED" || !strings.HasPrefix(err.Error(), "revoking IAM role projects/hpc-project/roles/flotilla_gcp_1_agent from "+member+" failed: ") {
		t.Errorf("endless conflicts: %v", err)
	}
	if err := p.deleteAgentBinding(ctx, spec, id, nop); err != nil {
		t.Fatal(err)
	}
	for _, b := range f.Policy().Bindings {
		if b.Role != "roles/viewer" {
			t.Errorf("binding left: %+v", b)
		}
	}
}

// TestFakeRefusesAsGoogle: the fake refuses what Google refuses, so the
// tests above could fail: a principal of another project number, a role
// that does not exist, an unknown permission, another project.
func TestFakeRefusesAsGoogle(t *testing.T) {
	ctx := context.Background()
	f, p, spec := identityFake(t)
	if _, err := p.createAgentRole(ctx, spec, nop); err != nil {
		t.Fatal(err)
	}
	role := AgentRole(spec.Project, spec.Name)
	cases := map[string]struct {
		err  error
		code string
	}{
		"principal of another project number": {err: p.editPolicy(ctx, spec.Project, "granting", nop, func(pol Policy) (Policy, bool) {
			return AddMember(pol, role, KSAPrincipal("999", f.Project, "ns", "sa"))
		}), code: "INVALID_ARGUMENT"},
		"role that does not exist": {err: p.editPolicy(ctx, spec.Project, "granting", nop, func(pol Policy) (Policy, bool) {
			return AddMember(pol, "projects/hpc-project/roles/nope", "user:a@example.com")
		}), code: "INVALID_ARGUMENT"},
		"unknown permission": {err: p.call(ctx, "POST", f.IAMURL+"/v1/projects/hpc-project/roles",
			map[string]any{"roleId": "r_1", "role": map[string]any{"includedPermissions": []string{"container.nodePools.get"}}}, nil),
			code: "INVALID_ARGUMENT"},
	}
	_, err := p.projectNumber(ctx, "other-project")
	cases["another project"] = struct {
		err  error
		code string
	}{err: err, code: "PERMISSION_DENIED"}
	for name, c := range cases {
		if got := restStatus(c.err) + cloud.ErrorCode(c.err); got != c.code {
			t.Errorf("%s: %v, want %s", name, c.err, c.code)
		}
	}
}
