package api_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jarviceCall sends one JARVICE call in form f: "get" (query string),
// "form" (POST, form body) or "json" (POST, JSON body).
func (e *env) jarviceCall(f, endpoint string, args url.Values) (int, string, []byte) {
	e.t.Helper()
	var req *http.Request
	var err error
	switch f {
	case "get":
		req, err = http.NewRequest("GET", e.url+"/jarvice/"+endpoint+"?"+args.Encode(), nil)
	case "form":
		req, err = http.NewRequest("POST", e.url+"/jarvice/"+endpoint, strings.NewReader(args.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "json":
		m := map[string]string{}
		for k := range args {
			m[k] = args.Get(k)
		}
		b, _ := json.Marshal(m)
		req, err = http.NewRequest("POST", e.url+"/jarvice/"+endpoint, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
	}
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b.Bytes()
}

// post sends a JSON document to a JARVICE endpoint.
func (e *env) jarvicePost(endpoint string, doc []byte) (int, []byte) {
	e.t.Helper()
	resp, err := http.Post(e.url+"/jarvice/"+endpoint, "application/json", bytes.NewReader(doc))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

func decodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("reply is not JSON: %v: %s", err, b)
	}
	return v
}

// TestJarviceAPIConformance calls every JARVICE endpoint in its GET, form
// and JSON forms with the reference's documented arguments and example
// bodies, and checks each reply's status, content type and every field's
// JSON type against python-jarviceapi's models.
func TestJarviceAPIConformance(t *testing.T) {
	e := newEnv(t)
	alice := seedSmall(e)
	ctx := e.ctx()
	a := e.admin
	e.must(a.PutTeam(ctx, &structs.Team{Tenant: "ta", Name: "t1", Members: []string{"alice"}, Admins: []string{"lead"}}))
	e.must(a.PutUser(ctx, "lead", &structs.UserSpec{Tenant: "ta", Role: structs.RoleTeamAdmin, Teams: []string{"t1"}}))
	lead := value[*structs.APIKeyCreated](t)(a.CreateAPIKey(ctx, "lead", "")).Key
	e.must(a.PutVault(ctx, &structs.Vault{Tenant: "ta", Name: "va", Kind: structs.VaultFile, AccessMode: structs.AccessRWX}))
	ref, err := os.ReadFile("../../catalog-sync/appdef/testdata/reference/batch.json")
	if err != nil {
		t.Fatal(err)
	}
	var every structs.AppDef
	if err := json.Unmarshal(ref, &every); err != nil {
		t.Fatal(err)
	}
	e.must(a.PutApp(ctx, &structs.App{Name: "every", Visibility: structs.VisibilityPublic, Image: "r/every:1", AppDef: every}))
	auth := func(user, key string, more ...string) url.Values {
		v := url.Values{"username": {user}, "apikey": {key}}
		for i := 0; i+1 < len(more); i += 2 {
			v.Set(more[i], more[i+1])
		}
		return v
	}

	// submit: the reference's example body, every documented field.
	submitDoc := fmt.Sprintf(`{"app":"pub","staging":false,"checkedout":false,
		"application":{"command":"Run","geometry":"1904x841","parameters":{"np":4,"verbose":true,"input":"/data/a.cas"}},
		"machine":{"type":"n1","nodes":1},"vault":{"name":"va","readonly":false,"force":false,"password":"x","objects":["a"]},
		"user":{"username":"alice","apikey":%q},"identity":{"username":"hpc","group":"jarvice","uid":1111,"gid":2222},
		"job_label":"lbl","job_project":"proj","job_priority":"normal","licenses":"","queue":"","gen_sshkey":false,
		"public_ip":false,"ipaddr":"","hpc":{"hpc_queue":"q"}}`, alice)
	code, body := e.jarvicePost("submit", []byte(submitDoc))
	if code != http.StatusOK {
		t.Fatalf("submit: %d %s", code, body)
	}
	var sub struct {
		Name   string `json:"name"`
		Number uint64 `json:"number"`
	}
	if err := json.Unmarshal(body, &sub); err != nil || sub.Name == "" || sub.Number == 0 {
		t.Fatalf("submit reply %s: %v", body, err)
	}
	num := fmt.Sprint(sub.Number)
	// batch: the reference's example body.
	code, body = e.jarvicePost("batch", []byte(fmt.Sprintf(`{"container":{"image":"library/ubuntu:jammy",
		"jobscript":"sleep 30 && hostname && cat /etc/os-release","pullsecret":""},"machine":{"type":"n1","nodes":1},
		"vault":{"name":"va","readonly":false,"force":false},"user":{"username":"alice","apikey":%q}}`, alice)))
	if code != http.StatusOK || !bytes.Contains(body, []byte(`"number"`)) {
		t.Fatalf("batch: %d %s", code, body)
	}
	var batch struct{ Number uint64 }
	_ = json.Unmarshal(body, &batch)
	// A job that completed, for completed=true, output and events.
	if code, _, body := e.jarviceCall("get", "terminate", auth("alice", alice, "number", fmt.Sprint(batch.Number))); code != 200 ||
		!bytes.Equal(bytes.TrimSpace(body), []byte(`{"status":"terminated"}`)) {
		t.Fatalf("terminate: %d %s", code, body)
	}

	type check struct {
		endpoint string
		args     url.Values
		code     int
		model    string // model of the reply; "map:M", "[M]", "text", "error", "object"
	}
	// An image without an AppDef: the pull keeps the app's (other checks read it).
	plain, _ := newTestRegistry(t, "", "").push("r/every:1", map[string]string{"opt/run.sh": "#!/bin/sh\n"})
	checks := map[string]check{
		"status by number":     {"status", auth("alice", alice, "number", num), 200, "map:SchedJobStatusEntry"},
		"status by name":       {"status", auth("alice", alice, "name", sub.Name), 200, "map:SchedJobStatusEntry"},
		"status unknown job":   {"status", auth("alice", alice, "number", "99999"), 404, "error"},
		"status unknown name":  {"status", auth("alice", alice, "name", "nope-job"), 404, "error"},
		"status bad key":       {"status", auth("alice", "flk_bad", "number", num), 401, "error"},
		"jobs":                 {"jobs", auth("alice", alice), 200, "map:JobEntry"},
		"jobs completed":       {"jobs", auth("alice", alice, "completed", "true"), 200, "map:JobEntry"},
		"teamjobs":             {"teamjobs", auth("lead", lead), 200, "map:JobEntry"},
		"info":                 {"info", auth("alice", alice, "name", sub.Name), 200, "RuntimeInfo"},
		"connect not running":  {"connect", auth("alice", alice, "number", num), 404, "error"},
		"output not completed": {"output", auth("alice", alice, "number", num), 400, "error"},
		"tail":                 {"tail", auth("alice", alice, "number", num, "lines", "10"), 200, "text"},
		"shutdown not running": {"shutdown", auth("alice", alice, "number", num), 404, "error"},
		"signal not running":   {"signal", auth("alice", alice, "number", num, "signal", "20"), 404, "error"},
		"action unknown":       {"action", auth("alice", alice, "number", num, "action", "restart"), 400, "error"},
		"events":               {"events", auth("alice", alice, "number", num), 200, "text"},
		"metrics":              {"metrics", auth("alice", alice, "number", num), 404, "error"},
		"apps":                 {"apps", auth("alice", alice), 200, "map:App"},
		"apps by name":         {"apps", auth("alice", alice, "name", "every"), 200, "map:App"},
		"apps version 2":       {"apps", auth("alice", alice, "version", "2"), 200, "map:App"},
		"apps unknown":         {"apps", auth("alice", alice, "name", "nope"), 404, "error"},
		"apps anonymous":       {"apps", url.Values{}, 200, "map:App"},
		"appdef":               {"appdef", auth("alice", alice, "name", "every"), 200, "AppDef"},
		"appdef unknown":       {"appdef", auth("alice", alice, "name", "nope"), 404, "error"},
		"machines":             {"machines", auth("alice", alice), 200, "map:MachineDef"},
		"machines by vault":    {"machines", auth("alice", alice, "vault", "va"), 200, "map:MachineDef"},
		"machines unknown":     {"machines", auth("alice", alice, "name", "zz9"), 404, "error"},
		"queues":               {"queues", auth("alice", alice), 200, "[Queue]"},
		"queues info":          {"queues", auth("alice", alice, "info", "true"), 200, "map:Queue"},
		"teamusers":            {"teamusers", auth("lead", lead), 200, "map:TeamUser"},
		"teamusers not admin":  {"teamusers", auth("alice", alice), 403, "error"},
		"projects":             {"projects", auth(hubAdmin(e), e.keys["global"]), 200, "object"},
		"billing":              {"billing", auth(hubAdmin(e), e.keys["global"], "statuses", "CANCELED,TERMINATED"), 200, "csv"},
		"billing not admin":    {"billing", auth("alice", alice), 403, "error"},
		"billing bad range":    {"billing", auth(hubAdmin(e), e.keys["global"], "timeperiod", "range"), 400, "error"},
		"vault":                {"vault", auth("alice", alice, "vault", "va", "path", "/"), 200, "[[any]]"},
		"vault unknown":        {"vault", auth("alice", alice, "vault", "nope", "path", "/"), 404, "error"},
		"history":              {"history", auth("alice", alice, "target", "pub"), 200, "text"},
		"pull":                 {"pull", auth(hubAdmin(e), e.keys["global"], "repo", plain, "target", "every"), 200, "object"},
		"pull not publisher":   {"pull", auth("alice", alice, "repo", "r/pub:2", "target", "pub"), 403, "error"},
		"pull unknown target":  {"pull", auth("alice", alice, "repo", "r/x:1", "target", "nope"), 404, "error"},
		"build":                {"build", auth(hubAdmin(e), e.keys["global"], "target", "every"), 400, "error"},
		"audit":                {"audit", auth(hubAdmin(e), e.keys["global"], "lines", "5", "category", "job"), 200, "text"},
		"audit not admin":      {"audit", auth("alice", alice), 403, "error"},
		"license":              {"license", auth(hubAdmin(e), e.keys["global"]), 404, "error"},
		"license not admin":    {"license", auth("alice", alice), 403, "error"},
		"screenshot queued":    {"screenshot", auth("alice", alice, "number", num), 404, "error"},
		"live":                 {"live", url.Values{}, 200, "object"},
		"ready":                {"ready", url.Values{}, 200, "object"},
		"output completed":     {"output", auth("alice", alice, "number", fmt.Sprint(batch.Number), "lines", "0"), 200, "text"},
		"terminate":            {"terminate", auth("alice", alice, "number", fmt.Sprint(batch.Number)), 200, "object"},
	}
	for name, c := range checks {
		for _, form := range []string{"get", "form", "json"} {
			t.Run(name+"/"+form, func(t *testing.T) {
				code, ct, body := e.jarviceCall(form, c.endpoint, c.args)
				if code != c.code {
					t.Fatalf("%d %s, want %d", code, body, c.code)
				}
				var problems []string
				switch {
				case c.model == "text":
					if !strings.HasPrefix(ct, "text/plain") {
						t.Errorf("content type %q, want text/plain", ct)
					}
				case c.model == "csv":
					rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
					if !strings.HasPrefix(ct, "text/csv") || err != nil || len(rows) < 2 || rows[0][0] != "job_number" {
						t.Fatalf("billing: %q %v\n%s", ct, err, body)
					}
					if (rows[1][11] != "CANCELED" && rows[1][11] != "TERMINATED") || rows[1][2] != "alice" {
						t.Errorf("billing row %v: want alice's ended job", rows[1])
					}
				case c.model == "error":
					var eb structs.ErrorBody
					if json.Unmarshal(body, &eb) != nil || eb.Error == "" {
						t.Errorf("error body %s", body)
					}
				case c.model == "object":
					if _, ok := decodeNumbers(t, body).(map[string]any); !ok {
						t.Errorf("reply %s is not an object", body)
					}
				case c.model == "[Queue]":
					list, ok := decodeNumbers(t, body).([]any)
					if !ok {
						t.Fatalf("reply %s is not a list", body)
					}
					for i, q := range list {
						problems = append(problems, checkModel(fmt.Sprintf("[%d]", i), q, "Queue")...)
					}
				case c.model == "[[any]]":
					list, ok := decodeNumbers(t, body).([]any)
					if !ok {
						t.Fatalf("reply %s is not a list", body)
					}
					for _, row := range list {
						if _, ok := row.([]any); !ok {
							t.Errorf("row %v is not a list", row)
						}
					}
				default:
					problems = checkModel("$", decodeNumbers(t, body), c.model)
				}
				for _, p := range problems {
					t.Error(p)
				}
			})
		}
	}

	// Semantics the types do not show.
	statusOf := func(args url.Values) map[string]map[string]any {
		_, _, body := e.jarviceCall("get", "status", args)
		var m map[string]map[string]any
		_ = json.Unmarshal(body, &m)
		return m
	}
	if s := statusOf(auth("alice", alice, "number", num))[num]; s["job_substatus"] != float64(structs.JarviceSubstatusQueued) ||
		s["job_substatus_text"] != "Queued" || s["job_status"] != "SUBMITTED" {
		t.Errorf("status = %v", s)
	}
	_, _, body = e.jarviceCall("get", "jobs", auth("alice", alice, "completed", "true"))
	var done map[string]map[string]any
	_ = json.Unmarshal(body, &done)
	if _, ok := done[fmt.Sprint(batch.Number)]; !ok || len(done) != 1 {
		t.Errorf("completed=true lists %v, want only the completed job %d", done, batch.Number)
	}
	_, _, body = e.jarviceCall("get", "appdef", auth("alice", alice, "name", "every"))
	var got map[string]any
	_ = json.Unmarshal(body, &got)
	up := got["commands"].(map[string]any)["Run"].(map[string]any)["parameters"].(map[string]any)["upload_1"].(map[string]any)
	if up["size"] != "4096" || up["target"] != "file.txt" {
		t.Errorf("upload_1 served as %v: want size as the string the clients expect", up)
	}
	// validate: a valid AppDef, then a bad one listing every error.
	if code, body := e.jarvicePost("validate", ref); code != 200 || !bytes.Contains(body, []byte(`"valid":true`)) {
		t.Errorf("validate: %d %s", code, body)
	}
	code, body = e.jarvicePost("validate", []byte(`{"name":"x","commands":{"r":{"path":"","parameters":{"p":{"type":"NUMBER"}}}}}`))
	var bad structs.ErrorBody
	if err := json.Unmarshal(body, &bad); code != 400 || err != nil || len(bad.Errors) != 2 ||
		bad.Errors[0].Path != "$.commands.r.path" || bad.Errors[1].Path != "$.commands.r.parameters.p.type" {
		t.Errorf("validate bad: %d %s", code, body)
	}
	// submit of an unknown app: 404, nothing stored.
	before := e.index()
	if code, body := e.jarvicePost("submit", []byte(strings.Replace(submitDoc, `"app":"pub"`, `"app":"nope"`, 1))); code != 404 {
		t.Errorf("submit unknown app: %d %s, want 404", code, body)
	}
	if e.index() != before {
		t.Errorf("a refused submission changed the state")
	}
}

// hubAdmin is the bootstrap administrator's username.
func hubAdmin(e *env) string {
	var who structs.CallerInfo
	_, body := e.do("GET", "/v1/whoami", e.keys["global"], nil)
	_ = json.Unmarshal(body, &who)
	return who.Username
}
