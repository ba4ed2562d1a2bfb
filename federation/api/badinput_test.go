package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// seedSmall makes tenant ta with user alice (returned key), cluster east,
// machine type n1 (1..8 nodes) and public app pub.
func seedSmall(e *env) string {
	ctx := e.ctx()
	a := e.admin
	e.must(a.PutTenant(ctx, &structs.Tenant{Name: "ta"}))
	e.must(a.PutCluster(ctx, "east", &structs.ClusterSpec{}))
	e.must(a.PutMachineType(ctx, machineType("n1")))
	e.must(a.PutApp(ctx, &structs.App{Name: "pub", Visibility: structs.VisibilityPublic,
		AppDef: structs.AppDef{Name: "App", Commands: map[string]structs.Command{"Run": {Path: "/run", Parameters: map[string]structs.Parameter{
			"np": {Name: "Ranks", Type: structs.ParamInt}, "verbose": {Name: "Verbose", Type: structs.ParamBool},
			"input": {Name: "Case", Type: structs.ParamFile}}}}}}))
	e.must(a.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser}))
	return value[*structs.APIKeyCreated](e.t)(a.CreateAPIKey(ctx, "alice", "")).Key
}

// TestBadBodiesChangeNothing sends malformed, unknown-field, multi-value,
// mistyped and oversize bodies to every endpoint that reads one: each gets
// 400 (413 when oversize) with a JSON error, and nothing is stored.
func TestBadBodiesChangeNothing(t *testing.T) {
	e := newEnv(t)
	alice := seedSmall(e)
	j := value[*structs.Job](t)(e.client(alice).SubmitJob(e.ctx(), structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1}))
	e.keys["alice"] = alice

	endpoints := map[string]struct {
		method, path, actor string
		wellFormed          string // a body that is well formed JSON but wrong for this endpoint
	}{
		"put tenant":      {"PUT", "/v1/tenants/newt", "global", `{"name":"other"}`},
		"put team":        {"PUT", "/v1/tenants/ta/teams/newteam", "global", `{"tenant":"tb"}`},
		"put user":        {"PUT", "/v1/users/newuser", "global", `{"tenant":"ta","role":"root"}`},
		"put machinetype": {"PUT", "/v1/machinetypes/newmt", "global", `{"mc_cores":0}`},
		"put cluster":     {"PUT", "/v1/clusters/newcl", "global", `{"labels":{"a":1}}`},
		"put vault":       {"PUT", "/v1/tenants/ta/vaults/newv", "global", `{"kind":"TAPE","access_mode":"RWO"}`},
		"put app":         {"PUT", "/v1/apps/newapp", "global", `{"visibility":"secret"}`},
		"put pull secret": {"PUT", "/v1/apps/pub/pull-secret", "global", `{"pull_secret":"{\"auths\":{}}"}`},
		"put limit":       {"PUT", "/v1/limits/newlim", "global", `{"scope":"tenant","tenant":"ta","kind":"max_nodes","value":1}`},
		"put burst rule":  {"PUT", "/v1/burstrules/newbr", "global", `{"from":"n1","to":[]}`},
		"submit job":      {"POST", "/v1/jobs", "alice", `{"app":"pub","machine_type":"n1","nodes":0}`},
		"jarvice submit":  {"POST", "/jarvice/submit", "alice", `{"app":"pub","machine":{"type":"n1","nodes":-1},"user":{"username":"alice","apikey":"` + alice + `"}}`},
		"cluster status":  {"POST", "/v1/clusters/east/status", "global", `{"status":"melting"}`},
		"create api key":  {"POST", "/v1/users/alice/apikeys", "alice", `{"name":7}`},
		"cancel job":      {"POST", "/v1/jobs/" + j.ID + "/cancel", "alice", `{"reason":["x"]}`},
	}
	oversize := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`
	bodies := map[string]struct {
		body string
		want int
	}{
		"malformed":     {`{"name":`, http.StatusBadRequest},
		"not an object": {`"just a string"`, http.StatusBadRequest},
		"unknown field": {`{"bogus":1}`, http.StatusBadRequest},
		"two values":    {`{} {}`, http.StatusBadRequest},
		"trailing junk": {`{}x`, http.StatusBadRequest},
		"oversize":      {oversize, http.StatusRequestEntityTooLarge},
	}
	for name, ep := range endpoints {
		for bname, b := range bodies {
			e.expectRefused(t, name+" / "+bname, ep.method, ep.path, ep.actor, b.body, b.want)
		}
		e.expectRefused(t, name+" / invalid", ep.method, ep.path, ep.actor, ep.wellFormed, http.StatusBadRequest)
	}

	// The catalog refuses what it cannot run, saying why.
	for name, tc := range map[string]struct{ body, says string }{
		"unknown machine type": {`{"app":"pub","machine_type":"n9","nodes":1}`, `unknown machine type \"n9\"`},
		"unknown app":          {`{"app":"nope","machine_type":"n1","nodes":1}`, `unknown app \"nope\"`},
		"over scale":           {`{"app":"pub","machine_type":"n1","nodes":9}`, "outside the scale 1..8"},
		"unknown command":      {`{"app":"pub","command":"Nope","machine_type":"n1","nodes":1}`, "no command"},
		"unknown vault":        {`{"app":"pub","machine_type":"n1","nodes":1,"vault":"v"}`, "unknown vault"},
	} {
		reply := e.expectRefused(t, name, "POST", "/v1/jobs", "alice", tc.body, http.StatusBadRequest)
		if !strings.Contains(reply, tc.says) {
			t.Errorf("%s: reply %s does not say %q", name, reply, tc.says)
		}
	}
}

// expectRefused sends body and checks the status, that the reply is a
// JSON error, and that the state did not change.
func (e *env) expectRefused(t *testing.T, name, method, path, actor, body string, want int) string {
	t.Helper()
	before := e.index()
	status, reply := e.do(method, path, e.keys[actor], []byte(body))
	if status != want {
		t.Errorf("%s: %d %.200s, want %d", name, status, reply, want)
	}
	var eb structs.ErrorBody
	if json.Unmarshal(reply, &eb) != nil || eb.Error == "" {
		t.Errorf("%s: reply %.200s is not a JSON error", name, reply)
	}
	if after := e.index(); after != before {
		t.Errorf("%s: state changed (index %d -> %d)", name, before, after)
	}
	return string(reply)
}

// TestInternalAndHealthEndpoints: the internal endpoints refuse callers
// without the replicas' shared secret (even administrators), and health
// answers without credentials.
func TestInternalAndHealthEndpoints(t *testing.T) {
	e := newEnv(t)
	cmd := value[[]byte](t)(fsm.Encode(&fsm.TenantUpsert{Tenant: structs.Tenant{Name: "sneaky"}}))
	for name, secret := range map[string]string{"no secret": "", "wrong secret": "guess"} {
		for _, path := range []string{api.InternalApplyPath, api.InternalReadIndexPath} {
			before := e.index()
			req, _ := http.NewRequest("POST", e.url+path, bytes.NewReader(cmd))
			if secret != "" {
				req.Header.Set(api.InternalSecretHeader, secret)
			}
			req.Header.Set("Authorization", "Bearer "+e.keys["global"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || e.index() != before {
				t.Errorf("%s %s: %d, index %d -> %d; want 401 and no change", name, path, resp.StatusCode, before, e.index())
			}
		}
	}
	if _, err := e.admin.GetTenant(e.ctx(), "sneaky"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("sneaky tenant: %v", err)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body := e.do("GET", path, "", nil); status != http.StatusOK {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
	if status, body := e.do("GET", "/v1/nothing-here", e.keys["global"], nil); status != http.StatusNotFound ||
		!strings.HasPrefix(string(body), `{"error":`) {
		t.Errorf("unknown endpoint: %d %s", status, body)
	}
	if status, _ := e.do("GET", "/v1/tenants", "", nil); status != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", status)
	}
}
