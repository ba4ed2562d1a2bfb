package api_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestScriptSubmission: POST /v1/jobs with a job script makes a job of
// the caller's batch app for the image (the one /jarvice/batch uses too),
// carrying the submission's other fields; the script reads back through
// GET /v1/jobs/{id}/script to the owner and administrators only.
func TestScriptSubmission(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	keys := seedSubmitters(ctx, t, e.admin, "alice", "bob")
	e.must(e.admin.PutUser(ctx, "tadmin", &structs.UserSpec{Tenant: "ta", Role: structs.RoleAdmin}))
	tadminKey := value[*structs.APIKeyCreated](t)(e.admin.CreateAPIKey(ctx, "tadmin", ""))
	alice, bob, tadmin := e.client(keys["alice"]), e.client(keys["bob"]), e.client(tadminKey.Key)

	script := "#!/bin/bash\n#SBATCH -N 2\necho \"hello $1\"\n"
	first := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{Script: script, Image: "ubuntu:24.04",
		ScriptArgs: []string{"big world", "it's"}, MachineType: "c16", Nodes: 2, Walltime: structs.Duration(3600e9),
		Label: "sweep", Env: map[string]string{"CASE": "7"}, Workdir: "/data/run", Priority: structs.PriorityHigh}))
	if !strings.HasPrefix(first.App, "batch-") || first.Command != "batch" || first.Nodes != 2 || first.Label != "sweep" ||
		first.Workdir != "/data/run" || first.Env["CASE"] != "7" || first.Priority != structs.PriorityHigh || first.Walltime != structs.Duration(3600e9) {
		t.Fatalf("job %+v", first)
	}
	if got, _ := base64.StdEncoding.DecodeString(first.Parameters["script"]); string(got) != script ||
		first.Parameters["args"] != `'big world' 'it'\''s'` {
		t.Errorf("parameters %q", first.Parameters)
	}
	app := value[*structs.App](t)(alice.GetApp(ctx, first.App))
	if app.Image != "ubuntu:24.04" || app.Owner != "alice" || app.Visibility != structs.VisibilityPrivate {
		t.Errorf("batch app %+v", app)
	}

	// The script reads back to its owner and the administrators, not to
	// another user of the tenant.
	for who, got := range map[string]func() (string, error){
		"owner":        func() (string, error) { return alice.JobScript(ctx, first.ID) },
		"tenant admin": func() (string, error) { return tadmin.JobScript(ctx, first.ID) },
		"global admin": func() (string, error) { return e.admin.JobScript(ctx, first.ID) },
	} {
		if s, err := got(); err != nil || s != script {
			t.Errorf("%s reads the script: %q, %v", who, s, err)
		}
	}
	if _, err := bob.JobScript(ctx, first.ID); !errors.Is(err, structs.ErrNotFound) && !errors.Is(err, structs.ErrForbidden) {
		t.Errorf("another user reads the script: %v", err)
	}
	plain := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", MachineType: "c16", Nodes: 1}))
	if _, err := alice.JobScript(ctx, plain.ID); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("the script of an app's job: %v, want not found", err)
	}

	// /jarvice/batch with the same image: the same app, one per user and image.
	code, body := e.jarvicePost("batch", fmt.Appendf(nil, `{"container":{"image":"ubuntu:24.04","jobscript":"echo from jarvice"},
		"machine":{"type":"c16","nodes":1},"user":{"username":"alice","apikey":%q}}`, keys["alice"]))
	if code != http.StatusOK {
		t.Fatalf("batch: %d %s", code, body)
	}
	jobs := value[*structs.JobList](t)(alice.ListJobs(ctx, client.JobQuery{}))
	var jarvice *structs.Job
	for _, j := range jobs.Jobs {
		if j.ID != first.ID && j.App == first.App {
			jarvice = j
		}
	}
	if jarvice == nil {
		t.Fatalf("no second job of %s: %+v", first.App, jobs.Jobs)
	}
	if s, err := alice.JobScript(ctx, jarvice.ID); err != nil || s != "echo from jarvice" {
		t.Errorf("the JARVICE job's script: %q, %v", s, err)
	}
	// Another image is another app.
	other := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{Script: "#!/bin/sh\ntrue\n", Image: "debian:stable",
		MachineType: "c16", Nodes: 1}))
	if other.App == first.App {
		t.Errorf("two images share app %s", other.App)
	}
}

// TestScriptDefaultImage: a hub with a default image for job scripts
// (-batch-image) runs a script that names none in it.
func TestScriptDefaultImage(t *testing.T) {
	e := newEnvWith(t, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) { cfg.BatchImage = "reg.example/base:7" }})
	ctx := e.ctx()
	keys := seedSubmitters(ctx, t, e.admin, "alice")
	alice := e.client(keys["alice"])
	j := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{Script: "#!/bin/sh\ntrue\n", MachineType: "c16", Nodes: 1}))
	if app := value[*structs.App](t)(alice.GetApp(ctx, j.App)); app.Image != "reg.example/base:7" {
		t.Errorf("the script runs in %q, want the hub's default", app.Image)
	}
	named := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{Script: "#!/bin/sh\ntrue\n", Image: "alpine:3", MachineType: "c16", Nodes: 1}))
	if app := value[*structs.App](t)(alice.GetApp(ctx, named.App)); app.Image != "alpine:3" {
		t.Errorf("a named image: %q", app.Image)
	}
}

// TestScriptSubmissionRefusals: a bad script submission is a 400 naming
// what is wrong, never quoting the script, and changes nothing (no job,
// no batch app).
func TestScriptSubmissionRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	keys := seedSubmitters(ctx, t, e.admin, "alice")
	big := "#!/bin/sh\n" + strings.Repeat("# secret-ish padding\n", structs.MaxJobScript/20)
	cases := map[string]struct {
		body string
		want string
	}{
		"no #!":          {`{"script":"echo secret-ish\n","image":"u:1","machine_type":"c16","nodes":1}`, "does not start with #!"},
		"no interpreter": {`{"script":"#!\necho secret-ish\n","image":"u:1","machine_type":"c16","nodes":1}`, "names no interpreter"},
		"DOS line breaks": {`{"script":"#!/bin/sh\r\necho secret-ish\r\n","image":"u:1","machine_type":"c16","nodes":1}`,
			"DOS line breaks"},
		"too large":         {fmt.Sprintf(`{"script":%q,"image":"u:1","machine_type":"c16","nodes":1}`, big), "over the limit of 65536"},
		"no image":          {`{"script":"#!/bin/sh\necho secret-ish\n","machine_type":"c16","nodes":1}`, "image is required with a script"},
		"image with blanks": {`{"script":"#!/bin/sh\necho secret-ish\n","image":"u 1","machine_type":"c16","nodes":1}`, "no blanks"},
		"app and script": {`{"app":"pub","script":"#!/bin/sh\necho secret-ish\n","image":"u:1","machine_type":"c16","nodes":1}`,
			"app and script exclude each other"},
		"parameters and script": {`{"parameters":{"a":"b"},"script":"#!/bin/sh\necho secret-ish\n","image":"u:1","machine_type":"c16","nodes":1}`,
			"parameters and script exclude each other"},
		"arguments without a script": {`{"app":"pub","script_args":["x"],"machine_type":"c16","nodes":1}`, "script_args needs a script"},
		"image without a script":     {`{"app":"pub","image":"u:1","machine_type":"c16","nodes":1}`, "image needs a script"},
		"argument with NUL": {`{"script":"#!/bin/sh\necho secret-ish\n","script_args":["a\u0000b"],"image":"u:1","machine_type":"c16","nodes":1}`,
			"argument 1 holds a NUL byte"},
		"no machine type":     {`{"script":"#!/bin/sh\necho secret-ish\n","image":"u:1","nodes":1}`, "machine_type is required"},
		"script not a string": {`{"script":["#!/bin/sh"],"image":"u:1","machine_type":"c16","nodes":1}`, "script"},
	}
	before := e.index()
	for name, tc := range cases {
		code, body := e.do(http.MethodPost, "/v1/jobs", keys["alice"], []byte(tc.body))
		if code != http.StatusBadRequest || !strings.Contains(string(body), tc.want) || strings.Contains(string(body), "secret-ish") {
			t.Errorf("%s: %d %s, want 400 with %q, never the script", name, code, body, tc.want)
		}
	}
	if after := e.index(); after != before {
		t.Errorf("refused submissions changed the state: index %d -> %d", before, after)
	}
}

// TestScriptUpdatesEarlierBatchApp: a batch app an earlier hub made (its
// command /bin/sh -c SCRIPT) is brought to the job-script AppDef by the
// next script submission, and a job submitted the earlier way (the script
// in "-c") is still admitted with it.
func TestScriptUpdatesEarlierBatchApp(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	keys := seedSubmitters(ctx, t, e.admin, "alice")
	alice := e.client(keys["alice"])
	h := sha256.Sum256([]byte("alice\x00ubuntu:24.04"))
	name := "batch-" + hex.EncodeToString(h[:8])
	old := structs.AppDef{Name: "batch ubuntu:24.04", Commands: map[string]structs.Command{"batch": {Path: "/bin/sh",
		Parameters: map[string]structs.Parameter{"-c": {Name: "job script", Type: structs.ParamString, Positional: false, Required: true}}}}}
	e.must(e.admin.PutApp(ctx, &structs.App{Name: name, Owner: "alice", Tenant: "ta", Visibility: structs.VisibilityPrivate,
		Image: "ubuntu:24.04", AppDef: old}))
	legacy := structs.JobSubmitRequest{App: name, Command: "batch", Parameters: map[string]string{"-c": "echo old"}, MachineType: "c16", Nodes: 1}
	e.must(alice.SubmitJob(ctx, legacy))
	j := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{Script: "#!/bin/sh\ntrue\n", Image: "ubuntu:24.04", MachineType: "c16", Nodes: 1}))
	if j.App != name {
		t.Fatalf("job of app %s, want %s", j.App, name)
	}
	app := value[*structs.App](t)(alice.GetApp(ctx, name))
	if _, ok := app.AppDef.Commands["batch"].Parameters["script"]; !ok {
		t.Errorf("the earlier batch app was not updated: %+v", app.AppDef.Commands["batch"])
	}
	legacy.ID = ""
	if _, err := alice.SubmitJob(ctx, legacy); err != nil {
		t.Errorf("a job the earlier way after the update: %v", err)
	}
	if s, err := alice.JobScript(ctx, j.ID); err != nil || s != "#!/bin/sh\ntrue\n" {
		t.Errorf("script %q, %v", s, err)
	}
}

// TestRefusedScriptJobLeavesCatalog: a script job the hub refuses at
// admission (through POST /v1/jobs and /jarvice/batch) makes no batch
// app and leaves an earlier hub's batch app as it was; the checks that
// need the app see the app that would be made (an access rule on
// batch-*). The same job admitted makes the app.
func TestRefusedScriptJobLeavesCatalog(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	keys := seedSubmitters(ctx, t, e.admin, "alice")
	alice := e.client(keys["alice"])
	e.must(e.admin.PutMachineType(ctx, &structs.MachineType{Name: "gpu", Cores: 8, Slots: 8, RAM: 64, ScaleMax: 4, Cluster: "east"}))
	e.must(e.admin.PutAccessRule(ctx, &structs.AccessRule{Name: "gpu-only-g1", Object: structs.AccessObjectMachineType, Match: "gpu", Groups: []string{"g1"}}))
	// An earlier hub's batch app for debian:12, which an admitted job
	// would bring to the job-script AppDef.
	h := sha256.Sum256([]byte("alice\x00debian:12"))
	earlier := "batch-" + hex.EncodeToString(h[:8])
	old := structs.AppDef{Name: "batch debian:12", Commands: map[string]structs.Command{"batch": {Path: "/bin/sh",
		Parameters: map[string]structs.Parameter{"-c": {Name: "job script", Type: structs.ParamString, Required: true}}}}}
	e.must(e.admin.PutApp(ctx, &structs.App{Name: earlier, Owner: "alice", Tenant: "ta", Visibility: structs.VisibilityPrivate,
		Image: "debian:12", AppDef: old}))

	catalog := func() string { // each app's name and last change
		t.Helper()
		apps, err := e.c.Hub(0).Store().Read().Apps()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, a := range apps {
			fmt.Fprintf(&b, "%s@%d ", a.Name, a.ModifyIndex)
		}
		return b.String()
	}
	before := catalog()
	script := `"script":"#!/bin/sh\ntrue\n"`
	cases := map[string]struct {
		body string
		want int
	}{
		"unknown machine type":     {`{` + script + `,"image":"u:1","machine_type":"c99","nodes":1}`, http.StatusBadRequest},
		"machine denied by a rule": {`{` + script + `,"image":"u:1","machine_type":"gpu","nodes":1}`, http.StatusForbidden},
		"too many nodes":           {`{` + script + `,"image":"u:1","machine_type":"c16","nodes":9}`, http.StatusBadRequest},
		"unknown dependency":       {`{` + script + `,"image":"u:1","machine_type":"c16","nodes":1,"dependency":"afterok:98765"}`, http.StatusBadRequest},
		"unknown vault":            {`{` + script + `,"image":"u:1","machine_type":"c16","nodes":1,"vault":"nope"}`, http.StatusBadRequest},
		"earlier app, refused job": {`{` + script + `,"image":"debian:12","machine_type":"c99","nodes":1}`, http.StatusBadRequest},
	}
	for name, tc := range cases {
		if code, body := e.do(http.MethodPost, "/v1/jobs", keys["alice"], []byte(tc.body)); code != tc.want {
			t.Errorf("%s: %d %s, want %d", name, code, body, tc.want)
		}
	}
	for _, mt := range []string{"c99", "gpu"} {
		code, body := e.jarvicePost("batch", fmt.Appendf(nil, `{"container":{"image":"u:2","jobscript":"true"},
			"machine":{"type":%q,"nodes":1},"user":{"username":"alice","apikey":%q}}`, mt, keys["alice"]))
		if code < 400 {
			t.Errorf("/jarvice/batch on %s: %d %s, want a refusal", mt, code, body)
		}
	}
	// A rule on the batch apps themselves: checked against the app that
	// would be made.
	e.must(e.admin.PutAccessRule(ctx, &structs.AccessRule{Name: "no-batch", Object: structs.AccessObjectApp, Match: "batch-*", Groups: []string{"g1"}}))
	if code, body := e.do(http.MethodPost, "/v1/jobs", keys["alice"], []byte(`{`+script+`,"image":"u:3","machine_type":"c16","nodes":1}`)); code != http.StatusForbidden {
		t.Errorf("batch app denied by a rule: %d %s, want 403", code, body)
	}
	if after := catalog(); after != before {
		t.Errorf("refused script jobs changed the catalog:\nbefore %s\nafter  %s", before, after)
	}

	// Admitted, the same job makes its app; the earlier one is updated.
	if err := e.admin.DeleteAccessRule(ctx, "no-batch"); err != nil {
		t.Fatal(err)
	}
	j := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{Script: "#!/bin/sh\ntrue\n", Image: "u:1", MachineType: "c16", Nodes: 1}))
	if app := value[*structs.App](t)(alice.GetApp(ctx, j.App)); app.Image != "u:1" {
		t.Errorf("the admitted job's app: %+v", app)
	}
	e.must(alice.SubmitJob(ctx, structs.JobSubmitRequest{Script: "#!/bin/sh\ntrue\n", Image: "debian:12", MachineType: "c16", Nodes: 1}))
	if app := value[*structs.App](t)(alice.GetApp(ctx, earlier)); app.AppDef.Commands["batch"].Parameters["script"].Type != structs.ParamUpload {
		t.Errorf("the earlier batch app was not updated: %+v", app.AppDef.Commands["batch"])
	}
}

// TestListsLeaveOutBatchApps: GET /v1/apps and /jarvice/apps list no
// batch app of job scripts unless asked (all=true; /jarvice/apps by its
// name too); an app a user registered under a batch-like name is listed.
func TestListsLeaveOutBatchApps(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	keys := seedSubmitters(ctx, t, e.admin, "alice")
	alice := e.client(keys["alice"])
	sj := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{Script: "#!/bin/sh\ntrue\n", Image: "u:1", MachineType: "c16", Nodes: 1}))
	e.must(alice.PutApp(ctx, &structs.App{Name: "batch-mine", Visibility: structs.VisibilityPrivate, Image: "u:1", AppDef: tinyAppDef}))
	names := func(apps []*structs.App) string {
		var n []string
		for _, a := range apps {
			n = append(n, a.Name)
		}
		return strings.Join(n, ",")
	}
	if got := names(value[[]*structs.App](t)(alice.ListApps(ctx))); got != "batch-mine,pub" {
		t.Errorf("GET /v1/apps: %s, want batch-mine,pub", got)
	}
	if got := names(value[[]*structs.App](t)(alice.ListAllApps(ctx))); got != "batch-mine,"+sj.App+",pub" && got != sj.App+",batch-mine,pub" {
		t.Errorf("GET /v1/apps?all=true: %s, want the batch app too", got)
	}
	if code, body := e.do(http.MethodGet, "/v1/apps?all=maybe", keys["alice"], nil); code != http.StatusBadRequest || !strings.Contains(string(body), "all: want true or false") {
		t.Errorf("all=maybe: %d %s", code, body)
	}
	for args, want := range map[string]bool{"": false, "&all=true": true, "&name=" + sj.App: true} {
		code, _, body := e.jarviceCall("get", "apps", value[url.Values](t)(url.ParseQuery("username=alice&apikey="+keys["alice"]+args)))
		if code != http.StatusOK || strings.Contains(string(body), sj.App) != want || (args == "" && !strings.Contains(string(body), `"pub"`)) {
			t.Errorf("/jarvice/apps%s: %d %s, want the batch app listed: %v", args, code, body, want)
		}
	}
}
