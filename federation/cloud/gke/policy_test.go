package gke

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	role   = "projects/p/roles/flotilla_c_agent"
	member = "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p.svc.id.goog/subject/ns/flotilla-system/sa/flotilla-agent"
)

var cond = json.RawMessage(`{"title":"weekdays","expression":"request.time.getDayOfWeek() < 5"}`)

func TestAddMember(t *testing.T) {
	owner := Binding{Role: "roles/owner", Members: []string{"user:admin@example.com"}}
	cases := map[string]struct {
		in, want Policy
		changed  bool
	}{
		"empty policy gets a new binding": {
			in:      Policy{Etag: "e1"},
			want:    Policy{Etag: "e1", Bindings: []Binding{{Role: role, Members: []string{member}}}},
			changed: true,
		},
		"other bindings stay, new binding appended": {
			in:      Policy{Version: 1, Etag: "e1", Bindings: []Binding{owner}},
			want:    Policy{Version: 1, Etag: "e1", Bindings: []Binding{owner, {Role: role, Members: []string{member}}}},
			changed: true,
		},
		"joins the role's condition-free binding": {
			in:      Policy{Bindings: []Binding{{Role: role, Members: []string{"user:x@example.com"}}}},
			want:    Policy{Bindings: []Binding{{Role: role, Members: []string{"user:x@example.com", member}}}},
			changed: true,
		},
		"already there: unchanged": {
			in:   Policy{Bindings: []Binding{{Role: role, Members: []string{member}}}},
			want: Policy{Bindings: []Binding{{Role: role, Members: []string{member}}}},
		},
		"a conditional binding of the role does not count": {
			in: Policy{Version: 3, Bindings: []Binding{{Role: role, Members: []string{member}, Condition: cond}}},
			want: Policy{Version: 3, Bindings: []Binding{{Role: role, Members: []string{member}, Condition: cond},
				{Role: role, Members: []string{member}}}},
			changed: true,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			before := clonePolicy(c.in)
			got, changed := AddMember(c.in, role, member)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
			if changed != c.changed {
				t.Errorf("changed %v, want %v", changed, c.changed)
			}
			if diff := cmp.Diff(before, c.in); diff != "" {
				t.Errorf("input modified (-before +after):\n%s", diff)
			}
		})
	}
}

func TestRemoveMember(t *testing.T) {
	owner := Binding{Role: "roles/owner", Members: []string{"user:admin@example.com"}}
	cases := map[string]struct {
		in, want Policy
		changed  bool
	}{
		"the binding goes with its last member": {
			in:      Policy{Etag: "e2", Bindings: []Binding{owner, {Role: role, Members: []string{member}}}},
			want:    Policy{Etag: "e2", Bindings: []Binding{owner}},
			changed: true,
		},
		"other members of the role stay": {
			in:      Policy{Bindings: []Binding{{Role: role, Members: []string{"user:x@example.com", member}}}},
			want:    Policy{Bindings: []Binding{{Role: role, Members: []string{"user:x@example.com"}}}},
			changed: true,
		},
		"the member under another role stays": {
			in:   Policy{Bindings: []Binding{{Role: "roles/viewer", Members: []string{member}}}},
			want: Policy{Bindings: []Binding{{Role: "roles/viewer", Members: []string{member}}}},
		},
		"a conditional binding stays": {
			in:   Policy{Version: 3, Bindings: []Binding{{Role: role, Members: []string{member}, Condition: cond}}},
			want: Policy{Version: 3, Bindings: []Binding{{Role: role, Members: []string{member}, Condition: cond}}},
		},
		"absent: unchanged": {
			in:   Policy{Bindings: []Binding{owner}},
			want: Policy{Bindings: []Binding{owner}},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			before := clonePolicy(c.in)
			got, changed := RemoveMember(c.in, role, member)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
			if changed != c.changed {
				t.Errorf("changed %v, want %v", changed, c.changed)
			}
			if diff := cmp.Diff(before, c.in); diff != "" {
				t.Errorf("input modified (-before +after):\n%s", diff)
			}
		})
	}
}

// TestPolicyRoundTrip: fields the edit does not know (auditConfigs, a
// condition) survive decode → edit → encode.
func TestPolicyRoundTrip(t *testing.T) {
	in := `{"version":3,"etag":"BwX1","auditConfigs":[{"service":"allServices","auditLogConfigs":[{"logType":"DATA_READ"}]}],` +
		`"bindings":[{"role":"roles/viewer","members":["user:a@example.com"],"condition":{"title":"t","expression":"true"}}]}`
	var p Policy
	if err := json.Unmarshal([]byte(in), &p); err != nil {
		t.Fatal(err)
	}
	p, _ = AddMember(p, role, member)
	p, _ = RemoveMember(p, role, member)
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = json.Unmarshal([]byte(in), &a)
	_ = json.Unmarshal(out, &b)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("round trip (-in +out):\n%s", diff)
	}
}

func TestNames(t *testing.T) {
	got := []string{AgentRoleID("gcp-1"), AgentRole("my-project", "gcp-1"),
		KSAPrincipal("123456789012", "my-project", "flotilla-system", "flotilla-agent")}
	want := []string{"flotilla_gcp_1_agent", "projects/my-project/roles/flotilla_gcp_1_agent",
		"principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/my-project.svc.id.goog/subject/ns/flotilla-system/sa/flotilla-agent"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}
