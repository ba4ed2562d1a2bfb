package api_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestPullCredentials: an app's pull credential is checked (400 for a
// document that is not a docker config with auths, nothing stored), kept
// in the state, kept when the app is written again without one, never in
// a reply (GET shows the registries it names), and handed to the agent
// in its catalog and in the assignments of the app's jobs. A job's own
// credential (POST /v1/jobs pull_secret, /jarvice/batch
// container.pullsecret as base64) wins over its app's for that job and
// is never shown either.
func TestPullCredentials(t *testing.T) {
	e := newAgentEnv(t)
	ctx := e.ctx()
	const appCred = `{"auths":{"https://reg.example/v1/":{"auth":"cm9ib3Q6YXBwLXNlY3JldA=="}}}` // robot:app-secret
	const jobCred = `{"auths":{"reg.example":{"username":"robot","password":"job-secret"}}}`
	app := func(secret string) *structs.App {
		return &structs.App{Name: "priv", Visibility: structs.VisibilityPublic, Image: "reg.example/priv:1", PullSecret: secret,
			AppDef: structs.AppDef{Name: "Priv", Machines: []string{"n*"}, Commands: map[string]structs.Command{"run": {Path: "/run"}}}}
	}
	for what, bad := range map[string]string{"not JSON": "robot:app-secret", "no auths": `{"auths":{}}`,
		"entry without credentials": `{"auths":{"reg.example":{"email":"x"}}}`} {
		code, body := e.do(http.MethodPut, "/v1/apps/priv", e.keys["global"], jsonOf(t, app(bad)))
		if code != http.StatusBadRequest || bytes.Contains(body, []byte("app-secret")) {
			t.Errorf("credential %s: %d %s, want 400 without the document", what, code, body)
		}
	}
	if _, err := e.admin.GetApp(ctx, "priv"); structs.KindOf(err) != structs.ErrNotFound {
		t.Fatalf("after refused writes: %v", err)
	}
	code, body := e.do(http.MethodPut, "/v1/apps/priv", e.keys["global"], jsonOf(t, app(appCred)))
	if code != http.StatusOK || bytes.Contains(body, []byte("cm9ib3Q6")) {
		t.Fatalf("PUT with a credential: %d %s", code, body)
	}
	e.must(e.admin.PutApp(ctx, app(""))) // an edit without one keeps it
	stored, err := e.c.Hub(0).Store().Read().App("priv")
	if err != nil || stored.PullSecret != appCred || stored.PullSecretRegistries != nil {
		t.Fatalf("stored app: %+v %v", stored, err)
	}
	for _, path := range []string{"/v1/apps/priv", "/v1/apps"} {
		code, body := e.do(http.MethodGet, path, e.keys["alice"], nil)
		if code != http.StatusOK || bytes.Contains(body, []byte("cm9ib3Q6")) || bytes.Contains(body, []byte(`"pull_secret"`)) ||
			!bytes.Contains(body, []byte(`"pull_secret_registries":["reg.example"]`)) {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	cat := value[*structs.AgentCatalog](t)(e.agent.AgentCatalog(ctx, "east", 0, time.Second))
	i := slices.IndexFunc(cat.Apps, func(a structs.AgentApp) bool { return a.Name == "priv" })
	if i < 0 || cat.Apps[i].PullSecret != appCred {
		t.Errorf("agent catalog: %+v", cat.Apps)
	}

	// The app's credential reaches its jobs' assignments; a job's own wins.
	withApp := e.submit(structs.JobSubmitRequest{App: "priv", Command: "run", MachineType: "n1", Nodes: 1}, "east")
	own := e.submit(structs.JobSubmitRequest{App: "priv", Command: "run", MachineType: "n1", Nodes: 1, PullSecret: jobCred}, "east")
	if code, _ := e.do(http.MethodPost, "/v1/jobs", e.keys["alice"],
		[]byte(`{"app":"priv","command":"run","machine_type":"n1","nodes":1,"pull_secret":"{}"}`)); code != http.StatusBadRequest {
		t.Errorf("job with an invalid credential: %d, want 400", code)
	}
	// /jarvice/batch: base64, as JARVICE clients send it.
	batch := func(secret string) (int, []byte) {
		return e.jarvicePost("batch", fmt.Appendf(nil, `{"container":{"image":"reg.example/batch:1","jobscript":"true","pullsecret":%q},
			"machine":{"type":"n1","nodes":1},"user":{"username":"alice","apikey":%q}}`, secret, e.keys["alice"]))
	}
	if code, body := batch("%%% not base64"); code != http.StatusBadRequest || bytes.Contains(body, []byte("%%%")) {
		t.Errorf("batch with a bad pullsecret: %d %s", code, body)
	}
	code, body = batch(base64.StdEncoding.EncodeToString([]byte(jobCred)))
	if code != http.StatusOK {
		t.Fatalf("batch: %d %s", code, body)
	}
	jobs := value[*structs.JobList](t)(e.alice.ListJobs(ctx, client.JobQuery{}))
	var bj *structs.Job
	for _, j := range jobs.Jobs {
		if j.App != "priv" && j.App != "pub" {
			bj = j
		}
	}
	if bj == nil {
		t.Fatalf("the batch job is not listed: %+v", jobs.Jobs)
	}
	e.write(&fsm.JobAssignment{ID: bj.ID, Cluster: "east", Time: time.Now()})
	want := map[string]string{withApp.ID: appCred, own.ID: jobCred, bj.ID: jobCred}
	for _, a := range e.list(client.AssignmentQuery{}).Assignments {
		if w, ok := want[a.Job.ID]; ok && a.PullSecret != w {
			t.Errorf("assignment of job %d carries credential %q, want %q", a.Job.Number, a.PullSecret, w)
		}
		delete(want, a.Job.ID)
	}
	if len(want) != 0 {
		t.Errorf("jobs without an assignment: %v", want)
	}
	for _, path := range []string{"/v1/jobs/" + own.ID, "/v1/jobs/" + bj.ID, "/v1/jobs"} {
		code, body := e.do(http.MethodGet, path, e.keys["alice"], nil)
		if code != http.StatusOK || bytes.Contains(body, []byte("job-secret")) || bytes.Contains(body, []byte("pull_secret")) {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	if code, body := e.do(http.MethodGet, "/v1/audit", e.keys["global"], nil); code != http.StatusOK ||
		bytes.Contains(body, []byte("job-secret")) || bytes.Contains(body, []byte("cm9ib3Q6")) {
		t.Errorf("audit: %d %s", code, body)
	}
}

// TestAppPullSecretEndpoints: PUT /v1/apps/{name}/pull-secret sets and
// rotates an app's pull credential and DELETE removes it, without
// re-creating the app (its other fields and create index stay): only
// whoever may write the app (403 for others, 404 for no such app),
// idempotent, bad bodies 400 with nothing changed, every reply showing
// the registries only. After removal the agent's catalog and the
// assignment of a new job of the app carry no credential; the audit
// trail records each change as app.pull-secret.set/remove without the
// credential.
func TestAppPullSecretEndpoints(t *testing.T) {
	e := newAgentEnv(t)
	ctx := e.ctx()
	const cred = `{"auths":{"reg.example":{"auth":"cm9ib3Q6YXBwLXNlY3JldA=="}}}`     // robot:app-secret
	const rotated = `{"auths":{"reg2.example":{"auth":"cm9ib3Q6bmV3LXNlY3JldA=="}}}` // robot:new-secret
	app := &structs.App{Name: "priv", Visibility: structs.VisibilityPublic, Image: "reg.example/priv:1", PullSecret: cred,
		AppDef: structs.AppDef{Name: "Priv", Machines: []string{"n*"}, Commands: map[string]structs.Command{"run": {Path: "/run"}}}}
	e.must(e.admin.PutApp(ctx, app))
	stored := func() *structs.App {
		t.Helper()
		a, err := e.c.Hub(0).Store().Read().App("priv")
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	first := stored()
	catalogCred := func() string {
		cat := value[*structs.AgentCatalog](t)(e.agent.AgentCatalog(ctx, "east", 0, time.Second))
		for _, a := range cat.Apps {
			if a.Name == "priv" {
				return a.PullSecret
			}
		}
		t.Fatalf("priv not in the agent's catalog: %+v", cat.Apps)
		return ""
	}
	path := "/v1/apps/priv/pull-secret"
	body := func(doc string) []byte { return jsonOf(t, &structs.AppPullSecret{PullSecret: doc}) }
	noSecrets := func(what string, b []byte) {
		t.Helper()
		for _, s := range []string{"cm9ib3Q6", "app-secret", "new-secret", `"pull_secret"`} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s shows %q: %s", what, s, b)
			}
		}
	}

	// Refused: nothing changes.
	for name, c := range map[string]struct {
		method, path, actor string
		body                []byte
		want                int
	}{
		"alice may not write the app":   {http.MethodPut, path, "alice", body(rotated), http.StatusForbidden},
		"alice may not remove it":       {http.MethodDelete, path, "alice", nil, http.StatusForbidden},
		"no such app (set)":             {http.MethodPut, "/v1/apps/nope/pull-secret", "global", body(rotated), http.StatusNotFound},
		"no such app (remove)":          {http.MethodDelete, "/v1/apps/nope/pull-secret", "global", nil, http.StatusNotFound},
		"empty credential":              {http.MethodPut, path, "global", body(""), http.StatusBadRequest},
		"not a docker config":           {http.MethodPut, path, "global", body("robot:new-secret"), http.StatusBadRequest},
		"entry without credentials":     {http.MethodPut, path, "global", body(`{"auths":{"reg.example":{}}}`), http.StatusBadRequest},
		"unknown field":                 {http.MethodPut, path, "global", []byte(`{"pull_secret":"x","remove":true}`), http.StatusBadRequest},
		"no body":                       {http.MethodPut, path, "global", nil, http.StatusBadRequest},
		"cas of an absent app (remove)": {http.MethodDelete, path + "?cas=0", "global", nil, http.StatusBadRequest},
		"stale cas":                     {http.MethodDelete, path + "?cas=1", "global", nil, http.StatusConflict},
	} {
		reply := e.expectRefused(t, name, c.method, c.path, c.actor, string(c.body), c.want)
		noSecrets(name, []byte(reply))
	}
	if a := stored(); a.PullSecret != cred || a.ModifyIndex != first.ModifyIndex {
		t.Fatalf("after refused calls the app changed: %+v", a)
	}

	// Rotate, then remove (twice: the second changes nothing).
	code, reply := e.do(http.MethodPut, path, e.keys["global"], body(rotated))
	if code != http.StatusOK || !bytes.Contains(reply, []byte(`"pull_secret_registries":["reg2.example"]`)) {
		t.Fatalf("rotate: %d %s", code, reply)
	}
	noSecrets("the rotate reply", reply)
	if a := stored(); a.PullSecret != rotated || a.CreateIndex != first.CreateIndex || a.Image != app.Image || a.AppDef.Name != "Priv" {
		t.Errorf("after rotating: %+v", a)
	}
	if got := catalogCred(); got != rotated {
		t.Errorf("agent catalog after rotating: %q", got)
	}
	for i := range 2 {
		code, reply = e.do(http.MethodDelete, path, e.keys["global"], nil)
		if code != http.StatusOK || bytes.Contains(reply, []byte("pull_secret_registries")) || !bytes.Contains(reply, []byte(`"name":"priv"`)) {
			t.Fatalf("remove #%d: %d %s", i+1, code, reply)
		}
	}
	removed := stored()
	if removed.PullSecret != "" || removed.CreateIndex != first.CreateIndex || removed.Image != app.Image {
		t.Errorf("after removing: %+v", removed)
	}
	if got := catalogCred(); got != "" {
		t.Errorf("agent catalog after removing: %q", got)
	}
	j := e.submit(structs.JobSubmitRequest{App: "priv", Command: "run", MachineType: "n1", Nodes: 1}, "east")
	for _, a := range e.list(client.AssignmentQuery{}).Assignments {
		if a.Job.ID == j.ID && a.PullSecret != "" {
			t.Errorf("a new job's assignment carries a credential after removal")
		}
	}
	// An edit without a credential keeps none; setting one again works.
	e.must(e.admin.PutApp(ctx, &structs.App{Name: "priv", Visibility: structs.VisibilityPublic, Image: app.Image, AppDef: app.AppDef}))
	if a := stored(); a.PullSecret != "" {
		t.Errorf("an edit brought the removed credential back")
	}
	got := value[*structs.App](t)(e.admin.SetAppPullSecret(ctx, "priv", cred))
	if got.PullSecret != "" || !slices.Equal(got.PullSecretRegistries, []string{"reg.example"}) || stored().PullSecret != cred {
		t.Errorf("set again: reply %+v, stored %q", got, stored().PullSecret)
	}
	if got := value[*structs.App](t)(e.admin.RemoveAppPullSecret(ctx, "priv")); got.PullSecretRegistries != nil || stored().PullSecret != "" {
		t.Errorf("client remove: %+v", got)
	}

	events := value[[]*structs.AuditEvent](t)(e.admin.Audit(ctx, client.AuditQuery{Object: "priv"}))
	actions := map[string]int{}
	for _, ev := range events {
		if ev.Outcome == "ok" {
			actions[ev.Action]++
		}
	}
	if actions["app.pull-secret.set"] != 2 || actions["app.pull-secret.remove"] != 3 {
		t.Errorf("audited actions %v, want 2 sets and 3 removals", actions)
	}
	code, reply = e.do(http.MethodGet, "/v1/audit", e.keys["global"], nil)
	if code != http.StatusOK {
		t.Fatalf("audit: %d", code)
	}
	noSecrets("the audit trail", bytes.ReplaceAll(reply, []byte(`"pull_secret_registries"`), nil))
}
