package cloudtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// The GKE fake's REST half: Resource Manager (projects.get,
// getIamPolicy, setIamPolicy of the one project) and IAM (a project's
// custom roles), on one HTTP server (IAMURL == ResourceManagerURL). Like
// Google, it wants an access token its token endpoint issued, writes the
// policy only with its current etag (409 ABORTED otherwise), refuses a
// malformed principal, a custom role that does not exist or is deleted,
// an unknown permission, and the ID of a deleted role until it is
// undeleted.

// IAMPolicy is the project's allow policy as the fake holds it.
type IAMPolicy struct {
	Version  int          `json:"version,omitempty"`
	Bindings []IAMBinding `json:"bindings,omitempty"`
	Etag     string       `json:"etag,omitempty"`
}

// IAMBinding is one binding of the policy.
type IAMBinding struct {
	Role      string          `json:"role"`
	Members   []string        `json:"members,omitempty"`
	Condition json.RawMessage `json:"condition,omitempty"`
}

// IAMRole is a custom role as the fake holds it.
type IAMRole struct {
	Name                string   `json:"name"`
	Title               string   `json:"title,omitempty"`
	Description         string   `json:"description,omitempty"`
	IncludedPermissions []string `json:"includedPermissions,omitempty"`
	Stage               string   `json:"stage,omitempty"`
	Etag                string   `json:"etag,omitempty"`
	Deleted             bool     `json:"deleted,omitempty"`
}

// KnownPermissions are the permissions the fake's IAM accepts in a
// custom role (a part of Google's; GKE has no container.nodePools.*).
var KnownPermissions = []string{"container.clusters.get", "container.clusters.update", "container.clusters.list",
	"container.clusters.create", "container.clusters.delete", "container.operations.get", "container.pods.list",
	"resourcemanager.projects.get", "iam.roles.get"}

var (
	roleIDPattern   = regexp.MustCompile(`^[a-zA-Z0-9_.]{3,64}$`)
	principalPrefix = regexp.MustCompile(`^principal://iam\.googleapis\.com/projects/([0-9]+)/locations/global/workloadIdentityPools/([a-z0-9.-]+)/subject/(.+)$`)
	memberPrefixes  = []string{"user:", "serviceAccount:", "group:", "domain:", "principal://", "principalSet://"}
)

// gerr writes a Google REST error.
func gerr(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}

func gok(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// RESTFault is a refusal of a REST method.
type RESTFault struct {
	Code            int
	Status, Message string
}

// FailREST makes every call of a REST method ("GetProject",
// "GetIamPolicy", "SetIamPolicy", "CreateRole", "DeleteRole") fail; a
// zero fault clears it.
func (f *GKE) FailREST(method string, fault RESTFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fault == (RESTFault{}) {
		delete(f.restFaults, method)
		return
	}
	f.restFaults[method] = fault
}

// PolicyConflicts makes the next n setIamPolicy calls lose a race: just
// before each, another administrator adds user:colleague-K@example.com
// to roles/viewer, so the caller's etag is stale.
func (f *GKE) PolicyConflicts(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conflicts = n
}

// SetPolicy replaces the project's policy (the test's starting point).
func (f *GKE) SetPolicy(p IAMPolicy) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policy = clonePolicy(p)
	f.bumpEtag()
}

// Policy returns a copy of the project's policy.
func (f *GKE) Policy() IAMPolicy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return clonePolicy(f.policy)
}

// Role returns a copy of a custom role (deleted ones included).
func (f *GKE) Role(name string) (IAMRole, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.roles[name]
	if !ok {
		return IAMRole{}, false
	}
	c := *r
	c.IncludedPermissions = slices.Clone(r.IncludedPermissions)
	return c, true
}

func clonePolicy(p IAMPolicy) IAMPolicy {
	out := p
	out.Bindings = nil
	for _, b := range p.Bindings {
		b.Members = slices.Clone(b.Members)
		b.Condition = slices.Clone(b.Condition)
		out.Bindings = append(out.Bindings, b)
	}
	return out
}

func (f *GKE) bumpEtag() {
	f.etagN++
	f.policy.Etag = fmt.Sprintf("BwY%06d", f.etagN)
}

// AfterCall makes the fake call fn after each successful mutating REST
// call, with its name ("CreateRole", "SetIamPolicy", ...), once the
// answer is written; nil stops it.
func (f *GKE) AfterCall(fn func(call string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.afterCall = fn
}

// serveREST routes the REST calls; after a successful mutating call it
// calls the AfterCall function (outside the lock) with its name.
func (f *GKE) serveREST(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if _, err := f.AuthenticateToken(tok); err != nil {
		gerr(w, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		gerr(w, 400, "INVALID_ARGUMENT", err.Error())
		return
	}
	path := r.URL.Path
	var method string
	var after func(string)
	call := func() string {
		f.mu.Lock()
		defer f.mu.Unlock()
		after = f.afterCall
		switch {
		case strings.HasPrefix(path, "/v3/projects/"):
			id, verb, _ := strings.Cut(strings.TrimPrefix(path, "/v3/projects/"), ":")
			method = map[string]string{"": "GetProject", "getIamPolicy": "GetIamPolicy", "setIamPolicy": "SetIamPolicy"}[verb]
			if f.restFault(w, method) {
				return ""
			}
			if id != f.Project || method == "" {
				gerr(w, 403, "PERMISSION_DENIED", fmt.Sprintf("Permission denied on resource project %s.", id))
				return ""
			}
			return f.serveProject(w, r.Method, method, body)
		case strings.HasPrefix(path, "/v1/projects/"+f.Project+"/roles"):
			return f.serveRoles(w, r, strings.TrimPrefix(path, "/v1/projects/"+f.Project+"/roles"), body)
		}
		gerr(w, 404, "NOT_FOUND", "no such method "+path)
		return ""
	}()
	if call != "" && after != nil {
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		after(call)
	}
}

func (f *GKE) restFault(w http.ResponseWriter, method string) bool {
	if ft, ok := f.restFaults[method]; ok {
		gerr(w, ft.Code, ft.Status, ft.Message)
		return true
	}
	return false
}

func (f *GKE) serveProject(w http.ResponseWriter, verb, method string, body []byte) string {
	switch method {
	case "GetProject":
		gok(w, map[string]string{"name": "projects/" + f.ProjectNumber, "projectId": f.Project, "state": "ACTIVE"})
		return ""
	case "GetIamPolicy":
		var req struct {
			Options struct {
				RequestedPolicyVersion int `json:"requestedPolicyVersion"`
			} `json:"options"`
		}
		_ = json.Unmarshal(body, &req)
		gok(w, f.policyAsVersion(req.Options.RequestedPolicyVersion))
		return ""
	}
	var req struct {
		Policy *IAMPolicy `json:"policy"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Policy == nil {
		gerr(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received: policy is required.")
		return ""
	}
	if f.conflicts > 0 {
		f.conflicts--
		f.policy.Bindings = append(f.policy.Bindings, IAMBinding{Role: "roles/viewer", Members: []string{fmt.Sprintf("user:colleague-%d@example.com", f.etagN)}})
		f.bumpEtag()
	}
	p := req.Policy
	if p.Etag != "" && p.Etag != f.policy.Etag {
		gerr(w, 409, "ABORTED", "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.")
		return ""
	}
	for _, b := range p.Bindings {
		if strings.Contains(b.Role, "_withcond_") {
			gerr(w, 400, "INVALID_ARGUMENT", fmt.Sprintf("Role %s is not a role: a policy with conditions must be read and written as version 3.", b.Role))
			return ""
		}
		if len(b.Condition) > 0 && p.Version < 3 {
			gerr(w, 400, "INVALID_ARGUMENT", "Conditions are only allowed in policies of version 3.")
			return ""
		}
		if strings.HasPrefix(b.Role, "projects/") {
			if role, ok := f.roles[b.Role]; !ok || role.Deleted {
				gerr(w, 400, "INVALID_ARGUMENT", fmt.Sprintf("Role (%s) does not exist in the resource's hierarchy.", b.Role))
				return ""
			}
		}
		for _, m := range b.Members {
			if msg := f.badMember(m); msg != "" {
				gerr(w, 400, "INVALID_ARGUMENT", msg)
				return ""
			}
		}
	}
	f.policy = clonePolicy(*p)
	f.bumpEtag()
	f.calls = append(f.calls, "SetIamPolicy")
	gok(w, f.policy)
	return "SetIamPolicy"
}

// policyAsVersion is the policy as getIamPolicy returns it to a caller
// asking for version v: below 3, as Google does, conditional bindings
// lose their condition and get a "_withcond_" role that cannot be
// written back.
func (f *GKE) policyAsVersion(v int) IAMPolicy {
	p := clonePolicy(f.policy)
	if v >= 3 {
		return p
	}
	for i, b := range p.Bindings {
		if len(b.Condition) > 0 {
			p.Bindings[i].Role, p.Bindings[i].Condition = b.Role+"_withcond_5ad2f1", nil
			p.Version = 1
		}
	}
	return p
}

// badMember says why IAM refuses a member, or "".
func (f *GKE) badMember(m string) string {
	if !slices.ContainsFunc(memberPrefixes, func(p string) bool { return strings.HasPrefix(m, p) }) {
		return fmt.Sprintf("Invalid member type in %s.", m)
	}
	if !strings.HasPrefix(m, "principal://") {
		return ""
	}
	sm := principalPrefix.FindStringSubmatch(m)
	if sm == nil || sm[1] != f.ProjectNumber {
		return fmt.Sprintf("Invalid principal identifier %s.", m)
	}
	if strings.HasSuffix(sm[2], ".svc.id.goog") && (sm[2] != f.Project+".svc.id.goog" || !strings.HasPrefix(sm[3], "ns/") || !strings.Contains(sm[3], "/sa/")) {
		return fmt.Sprintf("Invalid principal identifier %s.", m)
	}
	return ""
}

func (f *GKE) badPermissions(perms []string) string {
	for _, p := range perms {
		if !slices.Contains(KnownPermissions, p) {
			return fmt.Sprintf("Permission %s is not valid.", p)
		}
	}
	return ""
}

func (f *GKE) serveRoles(w http.ResponseWriter, r *http.Request, rest string, body []byte) string {
	prefix := "projects/" + f.Project + "/roles/"
	if rest == "" && r.Method == http.MethodPost {
		if f.restFault(w, "CreateRole") {
			return ""
		}
		var req struct {
			RoleID string  `json:"roleId"`
			Role   IAMRole `json:"role"`
		}
		if err := json.Unmarshal(body, &req); err != nil || !roleIDPattern.MatchString(req.RoleID) {
			gerr(w, 400, "INVALID_ARGUMENT", fmt.Sprintf("The role_id (%s) is not valid.", req.RoleID))
			return ""
		}
		if msg := f.badPermissions(req.Role.IncludedPermissions); msg != "" {
			gerr(w, 400, "INVALID_ARGUMENT", msg)
			return ""
		}
		name := prefix + req.RoleID
		if old, ok := f.roles[name]; ok {
			if old.Deleted {
				gerr(w, 400, "FAILED_PRECONDITION", fmt.Sprintf("You can't create a role with role_id (%s) where there is an existing role with that role_id in a deleted state.", req.RoleID))
			} else {
				gerr(w, 409, "ALREADY_EXISTS", fmt.Sprintf("A role named %s in projects/%s already exists.", req.RoleID, f.Project))
			}
			return ""
		}
		role := req.Role
		role.Name, role.Etag, role.Deleted = name, "BwR1", false
		f.roles[name] = &role
		f.calls = append(f.calls, "CreateRole "+req.RoleID)
		gok(w, role)
		return "CreateRole"
	}
	id, verb, _ := strings.Cut(strings.TrimPrefix(rest, "/"), ":")
	role, ok := f.roles[prefix+id]
	if !ok {
		gerr(w, 404, "NOT_FOUND", fmt.Sprintf("The role named %s%s was not found.", prefix, id))
		return ""
	}
	switch {
	case r.Method == http.MethodGet && verb == "":
		gok(w, role)
		return ""
	case r.Method == http.MethodDelete && verb == "":
		if f.restFault(w, "DeleteRole") {
			return ""
		}
		if role.Deleted {
			gerr(w, 400, "FAILED_PRECONDITION", "You can't delete role_id ("+id+") as it is already deleted.")
			return ""
		}
		role.Deleted, role.Etag = true, role.Etag+"d"
		f.calls = append(f.calls, "DeleteRole "+id)
		gok(w, role)
		return "DeleteRole"
	case r.Method == http.MethodPost && verb == "undelete":
		var req struct {
			Etag string `json:"etag"`
		}
		_ = json.Unmarshal(body, &req)
		if !role.Deleted || (req.Etag != "" && req.Etag != role.Etag) {
			gerr(w, 400, "FAILED_PRECONDITION", "You can't undelete role_id ("+id+") as it is not deleted, or the etag does not match.")
			return ""
		}
		role.Deleted, role.Etag = false, role.Etag+"u"
		f.calls = append(f.calls, "UndeleteRole "+id)
		gok(w, role)
		return "UndeleteRole"
	case r.Method == http.MethodPatch && verb == "":
		var req IAMRole
		if err := json.Unmarshal(body, &req); err != nil || r.URL.Query().Get("updateMask") != "includedPermissions" {
			gerr(w, 400, "INVALID_ARGUMENT", "only includedPermissions may be updated here")
			return ""
		}
		if msg := f.badPermissions(req.IncludedPermissions); msg != "" {
			gerr(w, 400, "INVALID_ARGUMENT", msg)
			return ""
		}
		if req.Etag != "" && req.Etag != role.Etag {
			gerr(w, 409, "ABORTED", "The role was changed meanwhile.")
			return ""
		}
		role.IncludedPermissions, role.Etag = slices.Clone(req.IncludedPermissions), role.Etag+"p"
		f.calls = append(f.calls, "UpdateRole "+id)
		gok(w, role)
		return "UpdateRole"
	}
	gerr(w, 404, "NOT_FOUND", "no such method "+r.Method+" "+rest)
	return ""
}
