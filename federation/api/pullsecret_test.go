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
