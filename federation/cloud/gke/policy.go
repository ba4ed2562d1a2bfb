package gke

import (
	"encoding/json"
	"slices"
	"strings"
)

// Policy is a project's IAM allow policy as Resource Manager's
// getIamPolicy returns it and setIamPolicy takes it. Fields this package
// does not edit (auditConfigs, a binding's condition) are kept as they
// came, so a read-modify-write changes nothing but the one member.
type Policy struct {
	Version      int               `json:"version,omitempty"`
	Bindings     []Binding         `json:"bindings,omitempty"`
	AuditConfigs []json.RawMessage `json:"auditConfigs,omitempty"`
	Etag         string            `json:"etag,omitempty"`
}

// Binding grants a role to members, under a condition or none.
type Binding struct {
	Role      string          `json:"role"`
	Members   []string        `json:"members,omitempty"`
	Condition json.RawMessage `json:"condition,omitempty"`
}

// AgentPermissions are the custom role's permissions: what the agent's
// node pool calls need. GKE checks GetNodePool against
// container.clusters.get and SetNodePoolSize against
// container.clusters.update; it has no node-pool permissions of its own.
var AgentPermissions = []string{"container.clusters.get", "container.clusters.update"}

// AgentRoleID is the custom role's ID for a cluster: letters, digits and
// underscores (a cluster name's hyphens become underscores).
func AgentRoleID(cluster string) string {
	return "flotilla_" + strings.ReplaceAll(cluster, "-", "_") + "_agent"
}

// AgentRole is the custom role's full name in the project.
func AgentRole(project, cluster string) string {
	return "projects/" + project + "/roles/" + AgentRoleID(cluster)
}

// WorkloadPool is the project's Workload Identity pool, which a cluster
// with Workload Identity puts its Kubernetes ServiceAccounts in.
func WorkloadPool(project string) string { return project + ".svc.id.goog" }

// KSAPrincipal is the IAM principal of a Kubernetes ServiceAccount of the
// project's clusters (Workload Identity Federation for GKE): it is granted
// roles directly, no Google service account is needed.
func KSAPrincipal(projectNumber, project, namespace, serviceAccount string) string {
	return "principal://iam.googleapis.com/projects/" + projectNumber + "/locations/global/workloadIdentityPools/" +
		WorkloadPool(project) + "/subject/ns/" + namespace + "/sa/" + serviceAccount
}

// AddMember returns p with member in the condition-free binding of role
// (a new binding if there is none), and whether that changed anything.
// Conditional bindings of the same role are left alone. p is not
// modified.
func AddMember(p Policy, role, member string) (Policy, bool) {
	out := clonePolicy(p)
	for i, b := range out.Bindings {
		if b.Role != role || len(b.Condition) > 0 {
			continue
		}
		if slices.Contains(b.Members, member) {
			return out, false
		}
		out.Bindings[i].Members = append(b.Members, member)
		return out, true
	}
	out.Bindings = append(out.Bindings, Binding{Role: role, Members: []string{member}})
	return out, true
}

// RemoveMember returns p without member in the condition-free binding of
// role, dropping the binding when it has no member left, and whether
// that changed anything. Every other binding and member stays. p is not
// modified.
func RemoveMember(p Policy, role, member string) (Policy, bool) {
	out := clonePolicy(p)
	for i, b := range out.Bindings {
		if b.Role != role || len(b.Condition) > 0 || !slices.Contains(b.Members, member) {
			continue
		}
		b.Members = slices.DeleteFunc(b.Members, func(m string) bool { return m == member })
		if len(b.Members) == 0 {
			out.Bindings = slices.Delete(out.Bindings, i, i+1)
		} else {
			out.Bindings[i] = b
		}
		return out, true
	}
	return out, false
}

func clonePolicy(p Policy) Policy {
	out := p
	out.Bindings = slices.Clone(p.Bindings)
	for i := range out.Bindings {
		out.Bindings[i].Members = slices.Clone(out.Bindings[i].Members)
	}
	out.AuditConfigs = slices.Clone(p.AuditConfigs)
	return out
}
