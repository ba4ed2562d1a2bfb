package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Actors of the authorization matrix: the global administrator, tenant ta's
// administrator, the team administrator of ta/a1, a user of team a1, a user
// of team a2, and cluster east's agent (which reads apps and its cluster's
// machine types, to run the jobs assigned to it). Tenant tb (admin adminB, user
// userB in team b1) owns the objects ta must never see or change.
var (
	tenantA = []string{"adminA", "teamadmA1", "userA1", "userA2"}
	actors  = append([]string{"global", "agent"}, tenantA...)
	users   = append([]string{"global"}, tenantA...)
)

// world is what seedWorld made.
type world struct {
	jobNumber map[string]uint64 // job id → number
}

func seedWorld(e *env) world {
	t := e.t
	ctx := e.ctx()
	a := e.admin
	for _, tn := range []string{"ta", "tb"} {
		e.must(a.PutTenant(ctx, &structs.Tenant{Name: tn}))
	}
	for _, cl := range []string{"east", "west"} {
		e.must(a.PutCluster(ctx, cl, &structs.ClusterSpec{}))
	}
	e.keys["agent"] = value[*structs.APIKeyCreated](t)(a.CreateAgentKey(ctx, "east")).Key
	for _, mt := range []string{"n1", "n2"} {
		e.must(a.PutMachineType(ctx, machineType(mt)))
	}
	w1 := machineType("w1")
	w1.Cluster = "west"
	e.must(a.PutMachineType(ctx, w1))
	e.must(a.PutBurstRule(ctx, &structs.BurstRule{Name: "br", From: "n1", To: []string{"n2"}}))
	for _, app := range []*structs.App{
		{Name: "pub", Visibility: structs.VisibilityPublic},
		{Name: "privA", Tenant: "ta", Visibility: structs.VisibilityTenant},
		{Name: "privB", Tenant: "tb", Visibility: structs.VisibilityTenant},
	} {
		e.must(a.PutApp(ctx, app))
	}
	for _, tm := range []*structs.Team{
		{Tenant: "ta", Name: "a1", Members: []string{"userA1", "teamadmA1"}, Admins: []string{"teamadmA1"}},
		{Tenant: "ta", Name: "a2", Members: []string{"userA2"}},
		{Tenant: "tb", Name: "b1", Members: []string{"userB"}},
	} {
		e.must(a.PutTeam(ctx, tm))
	}
	for name, spec := range userSpecs() {
		e.must(a.PutUser(ctx, name, spec))
		if name != "adminB" {
			e.keys[name] = value[*structs.APIKeyCreated](t)(a.CreateAPIKey(ctx, name, "matrix")).Key
		}
	}
	for _, v := range []*structs.Vault{vault("ta", "va"), vault("tb", "vb")} {
		e.must(a.PutVault(ctx, v))
	}
	for _, l := range []*structs.Limit{limit("lim-b", "tb", ""), limit("lim-a1", "ta", "a1"), limit("lim-a2", "ta", "a2")} {
		e.must(a.PutLimit(ctx, l))
	}
	w := world{jobNumber: map[string]uint64{}}
	for _, owner := range []struct{ user, team string }{{"userB", "b1"}, {"userA1", "a1"}, {"userA2", "a2"}} {
		id := "job-of-" + owner.user
		j := value[*structs.Job](t)(e.client(e.keys[owner.user]).SubmitJob(ctx, structs.JobSubmitRequest{
			ID: id, App: "pub", MachineType: "n1", Nodes: 1, Team: owner.team}))
		w.jobNumber[id] = j.Number
	}
	return w
}

func machineType(name string) *structs.MachineType {
	return &structs.MachineType{Name: name, Cores: 2, Slots: 2, RAM: 8, ScaleMax: 8, Cluster: "east"}
}

func vault(tenant, name string) *structs.Vault {
	return &structs.Vault{Tenant: tenant, Name: name, Kind: structs.VaultFile, AccessMode: structs.AccessRWX}
}

func limit(name, tenant, team string) *structs.Limit {
	l := &structs.Limit{Name: name, Tenant: tenant, Scope: structs.ScopeTenant, Kind: structs.LimitTotalCores, Value: 64}
	if team != "" {
		l.Scope, l.Team = structs.ScopeTeam, team
	}
	return l
}

func userSpecs() map[string]*structs.UserSpec {
	u := func(tenant string, role structs.Role, teams ...string) *structs.UserSpec {
		return &structs.UserSpec{Tenant: tenant, Role: role, Teams: teams}
	}
	return map[string]*structs.UserSpec{
		"adminA":    u("ta", structs.RoleAdmin),
		"teamadmA1": u("ta", structs.RoleTeamAdmin, "a1"),
		"userA1":    u("ta", structs.RoleUser, "a1"),
		"userA2":    u("ta", structs.RoleUser, "a2"),
		"adminB":    u("tb", structs.RoleAdmin),
		"userB":     u("tb", structs.RoleUser, "b1"),
	}
}

// authzCase is one endpoint call. allow lists the actors that may make it;
// the others must get 401, 403 or 404 and change nothing. hide lists, per
// actor, text its reply must not contain.
type authzCase struct {
	method string
	path   func(e *env, actor string) string
	body   any
	allow  []string
	hide   map[string][]string
	// skip lists actors not to run as (their allowed call would change
	// what the case tests for the others).
	skip []string
	// also lists statuses that count as a refusal besides 401/403/404.
	also []int
	// bodyFor, if set, makes the body per actor.
	bodyFor func(e *env, actor string) any
}

func fixed(p string) func(*env, string) string { return func(*env, string) string { return p } }

// victim makes a fresh object for a delete and returns its path.
func victim(make func(e *env, name string) string) func(*env, string) string {
	return func(e *env, actor string) string { return make(e, "victim-"+strings.ToLower(actor)) }
}

func allBut(except ...string) []string {
	var out []string
	for _, a := range users {
		if !slices.Contains(except, a) {
			out = append(out, a)
		}
	}
	return out
}

// jarviceUser is the JARVICE username of actor.
func jarviceUser(actor string) string {
	if actor == "global" {
		return hubtest.Admin
	}
	return actor
}

// jarvice builds a JARVICE query path authenticated as actor.
func jarvice(endpoint, query string) func(*env, string) string {
	return func(e *env, actor string) string {
		return fmt.Sprintf("/jarvice/%s?username=%s&apikey=%s&%s", endpoint, jarviceUser(actor), e.keys[actor], query)
	}
}

// jarviceSubmit is a JARVICE submission of app as actor.
func jarviceSubmit(app string) func(*env, string) any {
	return func(e *env, actor string) any {
		return structs.JarviceSubmit{App: app, Machine: structs.JarviceMachine{Type: "n1", Nodes: 1},
			User: structs.JarviceUser{Username: jarviceUser(actor), APIKey: e.keys[actor]}}
	}
}

func authzCases(w world) map[string]authzCase {
	g := []string{"global"}
	hideB := map[string][]string{}
	for _, a := range tenantA {
		hideB[a] = []string{`"tb"`, "userB", "privB", "lim-b", "job-of-userB", `"vb"`}
	}
	specs := userSpecs()
	num := func(id string) string { return fmt.Sprintf("number=%d", w.jobNumber[id]) }
	return map[string]authzCase{
		// Tenant tb's objects: only the global administrator.
		"get tenant tb":      {method: "GET", path: fixed("/v1/tenants/tb"), allow: g},
		"put tenant tb":      {method: "PUT", path: fixed("/v1/tenants/tb"), body: structs.Tenant{Name: "tb"}, allow: g},
		"list teams of tb":   {method: "GET", path: fixed("/v1/tenants/tb/teams"), allow: g},
		"get team tb/b1":     {method: "GET", path: fixed("/v1/tenants/tb/teams/b1"), allow: g},
		"put team tb/b1":     {method: "PUT", path: fixed("/v1/tenants/tb/teams/b1"), body: structs.Team{Members: []string{"userB"}}, allow: g},
		"get user userB":     {method: "GET", path: fixed("/v1/users/userB"), allow: g},
		"put user userB":     {method: "PUT", path: fixed("/v1/users/userB"), body: specs["userB"], allow: g},
		"list keys of userB": {method: "GET", path: fixed("/v1/users/userB/apikeys"), allow: g},
		"create key of userB": {method: "POST", path: fixed("/v1/users/userB/apikeys"),
			body: structs.APIKeyRequest{Name: "x"}, allow: g},
		"list vaults of tb": {method: "GET", path: fixed("/v1/tenants/tb/vaults"), allow: g},
		"get vault tb/vb":   {method: "GET", path: fixed("/v1/tenants/tb/vaults/vb"), allow: append([]string{"agent"}, g...)},
		"put vault tb/vb":   {method: "PUT", path: fixed("/v1/tenants/tb/vaults/vb"), body: vault("tb", "vb"), allow: g},
		"get app privB":     {method: "GET", path: fixed("/v1/apps/privB"), allow: []string{"global", "agent"}},
		"put app privB": {method: "PUT", path: fixed("/v1/apps/privB"),
			body: structs.App{Name: "privB", Tenant: "tb", Visibility: structs.VisibilityTenant}, allow: g},
		"put app privB as own": {method: "PUT", path: fixed("/v1/apps/privB"), skip: g,
			body: structs.App{Name: "privB", Tenant: "ta", Visibility: structs.VisibilityTenant}},
		"get limit lim-b":        {method: "GET", path: fixed("/v1/limits/lim-b"), allow: g},
		"put limit lim-b":        {method: "PUT", path: fixed("/v1/limits/lim-b"), body: limit("lim-b", "tb", ""), allow: g},
		"get job of userB":       {method: "GET", path: fixed("/v1/jobs/job-of-userB"), allow: g},
		"cancel job of userB":    {method: "POST", path: fixed("/v1/jobs/job-of-userB/cancel"), allow: g},
		"terminate job of userB": {method: "POST", path: fixed("/v1/jobs/job-of-userB/terminate"), allow: g},
		"list jobs of tb":        {method: "GET", path: fixed("/v1/jobs?tenant=tb"), allow: g},
		"submit with tb's app": {method: "POST", path: fixed("/v1/jobs"),
			body: structs.JobSubmitRequest{App: "privB", MachineType: "n1", Nodes: 1}, allow: g},
		"submit into team b1": {method: "POST", path: fixed("/v1/jobs"), also: []int{http.StatusBadRequest},
			body: structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1, Team: "b1"}},
		"delete team of tb": {method: "DELETE", allow: g, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutTeam(e.ctx(), &structs.Team{Tenant: "tb", Name: n}))
			return "/v1/tenants/tb/teams/" + n
		})},
		"delete user of tb": {method: "DELETE", allow: g, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutUser(e.ctx(), n, &structs.UserSpec{Tenant: "tb", Role: structs.RoleUser}))
			return "/v1/users/" + n
		})},
		"revoke key of userB": {method: "DELETE", allow: g, path: func(e *env, _ string) string {
			k := value[*structs.APIKeyCreated](e.t)(e.admin.CreateAPIKey(e.ctx(), "userB", "victim"))
			return "/v1/users/userB/apikeys/" + k.ID
		}},
		"delete vault of tb": {method: "DELETE", allow: g, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutVault(e.ctx(), vault("tb", n)))
			return "/v1/tenants/tb/vaults/" + n
		})},
		"delete app of tb": {method: "DELETE", allow: g, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutApp(e.ctx(), &structs.App{Name: n, Tenant: "tb", Visibility: structs.VisibilityPrivate}))
			return "/v1/apps/" + n
		})},
		"delete limit of tb": {method: "DELETE", allow: g, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutLimit(e.ctx(), limit(n, "tb", "")))
			return "/v1/limits/" + n
		})},
		"jarvice status of userB's job":    {method: "GET", path: jarvice("status", num("job-of-userB")), allow: g},
		"jarvice info of userB's job":      {method: "GET", path: jarvice("info", num("job-of-userB")), allow: g},
		"jarvice terminate userB's job":    {method: "GET", path: jarvice("terminate", num("job-of-userB")), allow: g},
		"jarvice shutdown of userA2's job": {method: "GET", path: jarvice("shutdown", num("job-of-userA2")), allow: []string{"global", "adminA", "userA2"}},

		// Inside tenant ta: team administrators only their team.
		"get team ta/a2": {method: "GET", path: fixed("/v1/tenants/ta/teams/a2"), allow: []string{"global", "adminA", "userA2"}},
		"put team ta/a2": {method: "PUT", path: fixed("/v1/tenants/ta/teams/a2"), body: structs.Team{Members: []string{"userA2"}}, allow: []string{"global", "adminA"}},
		"put team ta/a1": {method: "PUT", path: fixed("/v1/tenants/ta/teams/a1"), allow: []string{"global", "adminA", "teamadmA1"},
			body: structs.Team{Members: []string{"userA1", "teamadmA1"}, Admins: []string{"teamadmA1"}}},
		"promote in a team": {method: "PUT", allow: []string{"global", "adminA"}, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutTeam(e.ctx(), &structs.Team{Tenant: "ta", Name: n, Members: []string{"userA1", "teamadmA1"}, Admins: []string{"teamadmA1"}}))
			return "/v1/tenants/ta/teams/" + n
		}), body: structs.Team{Members: []string{"userA1", "teamadmA1"}, Admins: []string{"teamadmA1", "userA1"}}},
		"delete team of ta": {method: "DELETE", allow: []string{"global", "adminA"}, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutTeam(e.ctx(), &structs.Team{Tenant: "ta", Name: n}))
			return "/v1/tenants/ta/teams/" + n
		})},
		"get user userA2": {method: "GET", path: fixed("/v1/users/userA2"), allow: []string{"global", "adminA", "userA2"}},
		"put user userA2": {method: "PUT", path: fixed("/v1/users/userA2"), body: specs["userA2"], allow: []string{"global", "adminA", "userA2"}},
		"put user userA1": {method: "PUT", path: fixed("/v1/users/userA1"), body: specs["userA1"], allow: []string{"global", "adminA", "teamadmA1", "userA1"}},
		"make a user of a1 admin": {method: "PUT", allow: []string{"global", "adminA"}, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutUser(e.ctx(), n, &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser, Teams: []string{"a1"}}))
			return "/v1/users/" + n
		}), body: &structs.UserSpec{Tenant: "ta", Role: structs.RoleAdmin, Teams: []string{"a1"}}},
		"move a user of a1 to tb": {method: "PUT", allow: g, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutUser(e.ctx(), n, &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser, Teams: []string{"a1"}}))
			return "/v1/users/" + n
		}), body: &structs.UserSpec{Tenant: "tb", Role: structs.RoleUser}},
		"make self admin": {method: "PUT", path: func(_ *env, actor string) string { return "/v1/users/" + actor },
			body: &structs.UserSpec{Tenant: "ta", Role: structs.RoleAdmin}, allow: []string{"adminA"}, skip: []string{"global", "agent"}},
		"delete user of team a1": {method: "DELETE", allow: []string{"global", "adminA", "teamadmA1"}, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutUser(e.ctx(), n, &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser, Teams: []string{"a1"}}))
			return "/v1/users/" + n
		})},
		"delete user of team a2": {method: "DELETE", allow: []string{"global", "adminA"}, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutUser(e.ctx(), n, &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser, Teams: []string{"a2"}}))
			return "/v1/users/" + n
		})},
		"create key of userA2":   {method: "POST", path: fixed("/v1/users/userA2/apikeys"), allow: []string{"global", "adminA", "userA2"}},
		"get limit lim-a2":       {method: "GET", path: fixed("/v1/limits/lim-a2"), allow: []string{"global", "adminA", "userA2"}},
		"put limit lim-a2":       {method: "PUT", path: fixed("/v1/limits/lim-a2"), body: limit("lim-a2", "ta", "a2"), allow: []string{"global", "adminA"}},
		"put limit lim-a1":       {method: "PUT", path: fixed("/v1/limits/lim-a1"), body: limit("lim-a1", "ta", "a1"), allow: []string{"global", "adminA", "teamadmA1"}},
		"put tenant limit of ta": {method: "PUT", path: fixed("/v1/limits/lim-ta"), body: limit("lim-ta", "ta", ""), allow: g},
		"get job of userA2":      {method: "GET", path: fixed("/v1/jobs/job-of-userA2"), allow: []string{"global", "adminA", "userA2"}},
		"get job of userA1":      {method: "GET", path: fixed("/v1/jobs/job-of-userA1"), allow: []string{"global", "adminA", "teamadmA1", "userA1"}},
		"cancel job of userA2":   {method: "POST", path: fixed("/v1/jobs/job-of-userA2/cancel"), allow: []string{"global", "adminA", "userA2"}},
		"jobs of userA2":         {method: "GET", path: fixed("/v1/jobs?owner=userA2"), allow: []string{"global", "adminA", "teamadmA1", "userA2"}, hide: map[string][]string{"teamadmA1": {"job-of-userA2"}}},
		"get vault ta/va":        {method: "GET", path: fixed("/v1/tenants/ta/vaults/va"), allow: append([]string{"agent"}, users...)},
		"put vault ta/va":        {method: "PUT", path: fixed("/v1/tenants/ta/vaults/va"), body: vault("ta", "va"), allow: []string{"global", "adminA"}},
		"get app privA":          {method: "GET", path: fixed("/v1/apps/privA"), allow: append([]string{"agent"}, users...)},
		"put app privA": {method: "PUT", path: fixed("/v1/apps/privA"), allow: []string{"global", "adminA"},
			body: structs.App{Name: "privA", Tenant: "ta", Visibility: structs.VisibilityTenant}},
		"put public app": {method: "PUT", path: fixed("/v1/apps/pub"), body: structs.App{Name: "pub", Visibility: structs.VisibilityPublic}, allow: g},

		// Shared infrastructure: everyone reads, the global administrator writes.
		"get machine type": {method: "GET", path: fixed("/v1/machinetypes/n1"), allow: append([]string{"agent"}, users...)},
		"put machine type": {method: "PUT", path: fixed("/v1/machinetypes/n1"), body: machineType("n1"), allow: g},
		"get cluster":      {method: "GET", path: fixed("/v1/clusters/east"), allow: users},
		"put cluster":      {method: "PUT", path: fixed("/v1/clusters/west"), body: structs.ClusterSpec{}, allow: g},
		"create agent key": {method: "POST", path: fixed("/v1/clusters/west/agentkey"), allow: g},
		"get burst rule":   {method: "GET", path: fixed("/v1/burstrules/br"), allow: users},
		"put burst rule":   {method: "PUT", path: fixed("/v1/burstrules/br"), body: structs.BurstRule{From: "n1", To: []string{"n2"}}, allow: g},
		"create tenant":    {method: "PUT", path: victim(func(_ *env, n string) string { return "/v1/tenants/" + n }), body: struct{}{}, allow: g},
		"delete tenant": {method: "DELETE", allow: g, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutTenant(e.ctx(), &structs.Tenant{Name: n}))
			return "/v1/tenants/" + n
		})},
		"delete machine type": {method: "DELETE", allow: g, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutMachineType(e.ctx(), machineType(n)))
			return "/v1/machinetypes/" + n
		})},
		"delete cluster": {method: "DELETE", allow: g, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutCluster(e.ctx(), n, &structs.ClusterSpec{}))
			return "/v1/clusters/" + n
		})},
		"delete burst rule": {method: "DELETE", allow: g, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutBurstRule(e.ctx(), &structs.BurstRule{Name: n, From: "n2", To: []string{"n1"}}))
			return "/v1/burstrules/" + n
		})},
		"whoami":                {method: "GET", path: fixed("/v1/whoami"), allow: actors},
		"list machine types":    {method: "GET", path: fixed("/v1/machinetypes"), allow: append([]string{"agent"}, users...), hide: map[string][]string{"agent": {`"w1"`}}},
		"get west machine type": {method: "GET", path: fixed("/v1/machinetypes/w1"), allow: users},
		"list clusters":         {method: "GET", path: fixed("/v1/clusters"), allow: users},
		"list burst rules":      {method: "GET", path: fixed("/v1/burstrules"), allow: users},
		"list access rules":     {method: "GET", path: fixed("/v1/accessrules"), allow: users},
		"put access rule": {method: "PUT", path: fixed("/v1/accessrules/ar"), allow: g,
			body: structs.AccessRule{Object: structs.AccessObjectApp, Match: "priv*", Groups: []string{"g1"}}},
		"delete access rule": {method: "DELETE", allow: g, path: victim(func(e *env, n string) string {
			e.must(e.admin.PutAccessRule(e.ctx(), &structs.AccessRule{Name: n, Object: structs.AccessObjectApp, Match: "x*", Groups: []string{"g"}}))
			return "/v1/accessrules/" + n
		})},
		"list replicas": {method: "GET", path: fixed("/v1/replicas"), allow: g},
		// The victim is listed in the replica directory only (no member):
		// removing it changes no raft configuration.
		"remove replica": {method: "DELETE", allow: g, path: victim(func(e *env, n string) string {
			e.must(e.c.Hub(0).Write(e.ctx(), &fsm.ReplicaUpsert{Replica: structs.Replica{ID: n,
				RaftAddress: n + ".invalid:7000", APIAddress: "http://" + n + ".invalid:8080"}}))
			return "/v1/replicas/" + n
		})},
		"remove the only replica": {method: "DELETE", path: fixed("/v1/replicas/hub0"), skip: g},

		"jarvice machines":     {method: "GET", path: jarvice("machines", ""), allow: users},
		"jarvice apps":         {method: "GET", path: jarvice("apps", ""), allow: users, hide: hideB},
		"jarvice submit pub":   {method: "POST", path: fixed("/jarvice/submit"), bodyFor: jarviceSubmit("pub"), allow: users},
		"jarvice submit privB": {method: "POST", path: fixed("/jarvice/submit"), bodyFor: jarviceSubmit("privB"), allow: g},

		// Agents: only their own cluster.
		"assignments of east": {method: "GET", path: fixed("/v1/clusters/east/assignments?index=0"), allow: []string{"global", "agent"}},
		"assignments of west": {method: "GET", path: fixed("/v1/clusters/west/assignments?index=0"), allow: g},
		"status of east":      {method: "POST", path: fixed("/v1/clusters/east/status"), body: structs.ClusterStatusReport{}, allow: []string{"global", "agent"}},
		"status of west":      {method: "POST", path: fixed("/v1/clusters/west/status"), body: structs.ClusterStatusReport{}, allow: g},

		// Lists show only what the caller may see.
		"list tenants": {method: "GET", path: fixed("/v1/tenants"), allow: users, hide: hideB},
		"list users":   {method: "GET", path: fixed("/v1/users"), allow: users, hide: hideB},
		"list apps":    {method: "GET", path: fixed("/v1/apps"), allow: users, hide: hideB},
		"list limits":  {method: "GET", path: fixed("/v1/limits"), allow: users, hide: hideB},
		"list vaults":  {method: "GET", path: fixed("/v1/tenants/ta/vaults"), allow: users, hide: hideB},
		"list teams":   {method: "GET", path: fixed("/v1/tenants/ta/teams"), allow: users, hide: map[string][]string{"userA1": {`"a2"`}, "userA2": {`"a1"`}}},
		"jarvice jobs": {method: "GET", path: jarvice("jobs", "completed=true"), allow: users, hide: hideB},
		"list jobs": {method: "GET", path: fixed("/v1/jobs"), allow: users, hide: map[string][]string{
			"adminA": {"job-of-userB"}, "teamadmA1": {"job-of-userB", "job-of-userA2"},
			"userA1": {"job-of-userB", "job-of-userA2"}, "userA2": {"job-of-userB", "job-of-userA1"}}},
	}
}

// TestAPIAuthzMatrix calls every endpoint as every actor: tenant ta's
// users never read or change tenant tb's objects, team administrators
// only their team's, administrators everything in their scope, agents
// only their cluster; a refused call changes nothing.
func TestAPIAuthzMatrix(t *testing.T) {
	e := newEnv(t)
	w := seedWorld(e)
	cases := authzCases(w)
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		tc := cases[name]
		for _, actor := range actors {
			if slices.Contains(tc.skip, actor) {
				continue
			}
			path := tc.path(e, actor)
			var body []byte
			if tc.body != nil {
				body = jsonOf(t, tc.body)
			}
			if tc.bodyFor != nil {
				body = jsonOf(t, tc.bodyFor(e, actor))
			}
			before := e.index()
			key := e.keys[actor]
			if strings.HasPrefix(path, "/jarvice/") {
				key = ""
			}
			status, reply := e.do(tc.method, path, key, body)
			allowed := slices.Contains(tc.allow, actor)
			switch {
			case allowed && status/100 != 2:
				t.Errorf("%s as %s: %d %s, want success", name, actor, status, reply)
			case !allowed && status != http.StatusForbidden && status != http.StatusNotFound &&
				status != http.StatusUnauthorized && !slices.Contains(tc.also, status):
				t.Errorf("%s as %s: %d %s, want 401, 403 or 404", name, actor, status, reply)
			case !allowed && e.index() != before:
				t.Errorf("%s as %s: refused, but the state changed (index %d -> %d)", name, actor, before, e.index())
			}
			for _, s := range tc.hide[actor] {
				if strings.Contains(string(reply), s) {
					t.Errorf("%s as %s: reply shows %s: %s", name, actor, s, reply)
				}
			}
		}
	}
}
