package gke

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
)

// The agent's access on GKE: a project custom role allowed only what the
// agent's node pool calls need, granted by the project's IAM policy to
// the agent's Kubernetes ServiceAccount as a Workload Identity Federation
// principal. The role is made through IAM's REST API, the binding
// through Resource Manager's (read-modify-write of the policy with its
// etag).

// iamRole is an IAM custom role as the REST API carries it.
type iamRole struct {
	Name                string   `json:"name,omitempty"`
	Title               string   `json:"title,omitempty"`
	Description         string   `json:"description,omitempty"`
	IncludedPermissions []string `json:"includedPermissions,omitempty"`
	Stage               string   `json:"stage,omitempty"`
	Etag                string   `json:"etag,omitempty"`
	Deleted             bool     `json:"deleted,omitempty"`
}

func (p *Provider) roleURL(name string) string { return p.opts.IAMURL + "/v1/" + name }

func (p *Provider) projectURL(project string) string {
	return p.opts.ResourceManagerURL + "/v3/projects/" + url.PathEscape(project)
}

// createAgentRole makes the agent's custom role, or takes the one of
// that name already there: a role left by an interrupted run, or one a
// previous down deleted (IAM keeps deleted roles for 7 days and refuses
// their ID meanwhile), which is undeleted. Its permissions are set to
// AgentPermissions. It returns the role's name.
func (p *Provider) createAgentRole(ctx context.Context, spec *cloud.Spec, st func(string)) (string, error) {
	name := AgentRole(spec.Project, spec.Name)
	op := "creating IAM role " + name
	want := iamRole{Title: "Flotilla agent of GKE cluster " + spec.Name,
		Description:         "Lets the Flotilla agent of cluster " + spec.Name + " read and resize its node pools (made by flotilla cloud up).",
		IncludedPermissions: AgentPermissions, Stage: "GA"}
	body := map[string]any{"roleId": AgentRoleID(spec.Name), "role": want}
	err := p.call(ctx, "POST", p.opts.IAMURL+"/v1/projects/"+url.PathEscape(spec.Project)+"/roles", body, nil)
	if err == nil {
		return name, nil
	}
	if s := restStatus(err); s != "ALREADY_EXISTS" && s != "FAILED_PRECONDITION" {
		return "", restError(op, err, "iam.roles.create")
	}
	var got iamRole
	if gerr := p.call(ctx, "GET", p.roleURL(name), nil, &got); gerr != nil {
		// Deleted more than 7 days ago: gone, and its ID not free yet.
		ce := restError(op, err, "")
		if e, ok := ce.(*cloud.Error); ok && restStatus(gerr) == "NOT_FOUND" {
			e.Message = strings.TrimSuffix(e.Message, ".") + "; a role of this ID was deleted too long ago to be undeleted and its ID is not free yet: pick another cluster name"
		}
		return "", ce
	}
	if got.Deleted {
		st("undeleting the role an earlier down deleted")
		if err := p.call(ctx, "POST", p.roleURL(name)+":undelete", map[string]string{"etag": got.Etag}, &got); err != nil {
			return "", restError("undeleting IAM role "+name, err, "iam.roles.undelete")
		}
	}
	if !slices.Equal(sorted(got.IncludedPermissions), sorted(AgentPermissions)) {
		patch := iamRole{IncludedPermissions: AgentPermissions, Etag: got.Etag}
		if err := p.call(ctx, "PATCH", p.roleURL(name)+"?updateMask=includedPermissions", patch, nil); err != nil {
			return "", restError("setting the permissions of IAM role "+name, err, "iam.roles.update")
		}
	}
	return name, nil
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// deleteAgentRole deletes the role; one gone or already deleted is not
// an error.
func (p *Provider) deleteAgentRole(ctx context.Context, name string) error {
	err := p.call(ctx, "DELETE", p.roleURL(name), nil, nil)
	switch restStatus(err) {
	case "":
		if err != nil {
			return fmt.Errorf("deleting IAM role %s: %w", name, err)
		}
		return nil
	case "NOT_FOUND":
		return nil
	case "FAILED_PRECONDITION":
		var got iamRole
		if gerr := p.call(ctx, "GET", p.roleURL(name), nil, &got); gerr == nil && got.Deleted {
			return nil
		}
	}
	return restError("deleting IAM role "+name, err, "iam.roles.delete")
}

// projectNumber reads the project's number, which the principal of a
// Kubernetes ServiceAccount names.
func (p *Provider) projectNumber(ctx context.Context, project string) (string, error) {
	var got struct {
		Name string `json:"name"`
	}
	if err := p.call(ctx, "GET", p.projectURL(project), nil, &got); err != nil {
		return "", restError("reading project "+project, err, "resourcemanager.projects.get")
	}
	n, ok := strings.CutPrefix(got.Name, "projects/")
	if !ok || n == "" {
		return "", fmt.Errorf("reading project %s: unexpected name %q", project, got.Name)
	}
	return n, nil
}

// bindingID is the recorded ID of the agent's binding: the role and the
// member, so down removes exactly that member.
func bindingID(role, member string) string { return role + " " + member }

// createAgentBinding grants the agent's role to the agent's Kubernetes
// ServiceAccount in the project's IAM policy; a member already there (an
// interrupted run) is taken. It returns the binding's ID.
func (p *Provider) createAgentBinding(ctx context.Context, spec *cloud.Spec, st func(string)) (string, error) {
	num, err := p.projectNumber(ctx, spec.Project)
	if err != nil {
		return "", err
	}
	role := AgentRole(spec.Project, spec.Name)
	member := KSAPrincipal(num, spec.Project, cloud.AgentNamespace, cloud.AgentName)
	op := "granting IAM role " + role + " to " + member
	if err := p.editPolicy(ctx, spec.Project, op, st, func(pol Policy) (Policy, bool) { return AddMember(pol, role, member) }); err != nil {
		return "", err
	}
	return bindingID(role, member), nil
}

// deleteAgentBinding removes the member the binding step added, and
// nothing else.
func (p *Provider) deleteAgentBinding(ctx context.Context, spec *cloud.Spec, id string, st func(string)) error {
	role, member, ok := strings.Cut(id, " ")
	if !ok {
		return fmt.Errorf("gke: malformed binding %q", id)
	}
	return p.editPolicy(ctx, spec.Project, "revoking IAM role "+role+" from "+member, st,
		func(pol Policy) (Policy, bool) { return RemoveMember(pol, role, member) })
}

// policyAttempts bounds the read-modify-write retries of a policy that
// others change at the same time.
const policyAttempts = 6

// editPolicy reads the project's IAM policy, edits it and writes it back
// on the condition of its etag; when someone else changed it in between
// (ABORTED), it reads it again and retries.
func (p *Provider) editPolicy(ctx context.Context, project, op string, st func(string), edit func(Policy) (Policy, bool)) error {
	const need = "resourcemanager.projects.getIamPolicy and resourcemanager.projects.setIamPolicy on project "
	for attempt := 1; ; attempt++ {
		var pol Policy
		get := map[string]any{"options": map[string]int{"requestedPolicyVersion": 3}}
		if err := p.call(ctx, "POST", p.projectURL(project)+":getIamPolicy", get, &pol); err != nil {
			return restError(op, err, need+project)
		}
		next, changed := edit(pol)
		if !changed {
			return nil
		}
		err := p.call(ctx, "POST", p.projectURL(project)+":setIamPolicy", map[string]any{"policy": next}, nil)
		if err == nil {
			return nil
		}
		if restStatus(err) != "ABORTED" || attempt == policyAttempts {
			return restError(op, err, need+project)
		}
		st("the project's policy changed meanwhile: reading it again")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * p.retryPause()):
		}
	}
}

// retryPause is the pause before a policy retry: the poll interval, at
// most a second.
func (p *Provider) retryPause() time.Duration {
	return min(p.opts.PollInterval, time.Second)
}
