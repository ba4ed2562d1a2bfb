package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jarviceMultipart posts args as curl -F sends them (multipart/form-data).
func (e *env) jarviceMultipart(endpoint string, args url.Values) (int, []byte) {
	e.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k := range args {
		if err := w.WriteField(k, args.Get(k)); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.Post(e.url+"/jarvice/"+endpoint, w.FormDataContentType(), &b)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes()
}

// pushToComputeEnv is an agent env with alice's private app "mine"
// (image r/mine:1, machines n*) and "synced" (from a catalog source),
// bob (tenant ta) with his private app "bobs", and the public app "pub"
// (the administrator's).
func pushToComputeEnv(t *testing.T) (e *agentEnv, alice, bob string) {
	e = newAgentEnv(t)
	ctx := e.ctx()
	alice = e.keys["alice"]
	app := func(name, image string) *structs.App {
		return &structs.App{Name: name, Visibility: structs.VisibilityPrivate, Image: image,
			AppDef: structs.AppDef{Name: name, Machines: []string{"n*"}, Commands: map[string]structs.Command{"run": {Path: "/run"}}}}
	}
	e.must(e.alice.PutApp(ctx, app("mine", "r/mine:1")))
	e.must(e.admin.PutUser(ctx, "bob", &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser}))
	bob = value[*structs.APIKeyCreated](t)(e.admin.CreateAPIKey(ctx, "bob", "")).Key
	e.must(e.client(bob).PutApp(ctx, app("bobs", "r/bobs:1")))
	synced := app("synced", "r/synced:1")
	synced.Origin = "images:ci"
	e.must(e.alice.PutApp(ctx, synced))
	return e, alice, bob
}

// TestJarvicePull: /jarvice/pull, in every form the reference's scripts
// send it (query, form, JSON, curl -F), reads repo from its registry and
// makes it, pinned to the digest its tag names, the target app's image,
// with the AppDef the image carries, for the caller who may publish the
// app; the cluster's agent is told to pull it (its catalog lists the
// pinned image); the same image again changes nothing. Every refusal is
// a 4xx with the reason and changes nothing. /jarvice/history lists the
// pulls, most recent first.
func TestJarvicePull(t *testing.T) {
	e, alice, bob := pushToComputeEnv(t)
	reg := newTestRegistry(t, "", "")
	ref2, dig2 := reg.push("apps/mine:2", appDefImage("Mine 2"))
	ref3, dig3 := reg.push("apps/mine:3", appDefImage("Mine 3"))
	ctx := e.ctx()
	args := func(key string, kv ...string) url.Values {
		v := url.Values{"username": {"alice"}, "apikey": {key}}
		if key == bob {
			v.Set("username", "bob")
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	app := func() *structs.App { return value[*structs.App](t)(e.admin.GetApp(ctx, "mine")) }

	code, _, body := e.jarviceCall("get", "pull", args(alice, "repo", ref2, "target", "mine"))
	if code != http.StatusOK || pullStatus(t, body) != "Pull successfully scheduled" {
		t.Fatalf("pull: %d %s", code, body)
	}
	if a := app(); a.Image != ref2+"@"+dig2 || a.AppDef.Name != "Mine 2" || a.AppDef.Commands["Run"].Path != "/opt/run.sh" {
		t.Errorf("app after the pull: image %q, AppDef %q: want %s@%s with the image's AppDef", a.Image, a.AppDef.Name, ref2, dig2)
	}
	cat := value[*structs.AgentCatalog](t)(e.agent.AgentCatalog(ctx, "east", 0, 0))
	found := false
	for _, a := range cat.Apps {
		found = found || (a.Name == "mine" && a.Image == ref2+"@"+dig2 && len(a.MachineTypes) == 1 && a.MachineTypes[0] == "n1")
	}
	if !found {
		t.Errorf("agent catalog %+v: want mine with the pinned image on n1 (the agent pulls it)", cat.Apps)
	}
	before := app().ModifyIndex
	code, _, body = e.jarviceCall("json", "pull", args(alice, "repo", ref2, "target", "mine"))
	if after := app().ModifyIndex; code != http.StatusOK || !strings.HasPrefix(pullStatus(t, body), "Image unchanged") || after != before {
		t.Errorf("pull of the same image: %d %s, index %d -> %d: want unchanged", code, body, before, after)
	}
	code, body = e.jarviceMultipart("pull", args(alice, "repo", ref3, "target", "mine"))
	if a := app(); code != http.StatusOK || pullStatus(t, body) != "Pull successfully scheduled" || a.Image != ref3+"@"+dig3 || a.AppDef.Name != "Mine 3" {
		t.Errorf("curl -F pull: %d %s, image %q: want %s@%s", code, body, a.Image, ref3, dig3)
	}

	stateBefore := e.index()
	for name, c := range map[string]struct {
		args url.Values
		code int
		want string
	}{
		"no repo":        {args(alice, "target", "mine"), 400, "repo is required"},
		"no target":      {args(alice, "repo", ref2), 400, "target is required"},
		"bad repo":       {args(alice, "repo", "r/Mine::4", "target", "mine"), 400, "not an image reference"},
		"unknown target": {args(alice, "repo", ref2, "target", "nope"), 404, `app \"nope\"`},
		"invisible app":  {args(alice, "repo", ref2, "target", "bobs"), 404, `app \"bobs\"`},
		"not publisher":  {args(alice, "repo", ref2, "target", "pub"), 403, ""},
		"synced app":     {args(alice, "repo", ref2, "target", "synced"), 400, "is synced from images:ci"},
		"other's app":    {args(bob, "repo", ref2, "target", "mine"), 404, ""},
		"bad key":        {args("flk_nope", "repo", ref2, "target", "mine"), 401, ""},
		"unknown image":  {args(alice, "repo", reg.host+"/apps/mine:9", "target", "mine"), 400, "the registry answered 404"},
		"no registry":    {args(alice, "repo", "127.0.0.1:1/apps/mine:2", "target", "mine"), 503, "the registry could not be read"},
	} {
		for _, form := range []string{"get", "form", "json"} {
			code, _, body := e.jarviceCall(form, "pull", c.args)
			if code != c.code || !strings.Contains(string(body), c.want) || !strings.Contains(string(body), `"error"`) {
				t.Errorf("%s/%s: %d %s, want %d with %q", name, form, code, body, c.code, c.want)
			}
		}
	}
	if a := app(); e.index() != stateBefore || a.Image != ref3+"@"+dig3 {
		t.Errorf("refused pulls changed the state (image %q)", a.Image)
	}

	// history: the pulls, most recent first (the refused ones too, with
	// their status); limit and absolute times.
	_, ct, body := e.jarviceCall("get", "history", args(alice, "target", "mine", "reltime", "false"))
	var ok []string
	refused := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		if _, err := time.Parse(time.RFC3339, strings.Fields(l)[0]); err != nil {
			t.Errorf("history with reltime=false: %q: %v", l, err)
		}
		if m := regexp.MustCompile(` pull by alice: refused \((\d+)\)$`).FindStringSubmatch(l); m != nil {
			refused[m[1]]++
			continue
		}
		ok = append(ok, l)
	}
	if ct != "text/plain" || len(ok) != 3 || !strings.HasSuffix(ok[0], " pull "+ref3+"@"+dig3+" by alice: scheduled") ||
		!strings.HasSuffix(ok[2], " pull "+ref2+"@"+dig2+" by alice: scheduled") || refused["400"] != 3 || refused["503"] != 3 {
		t.Fatalf("history %q (%s): want 3 pulls, the last first, and the 6 the registry refused", body, ct)
	}
	_, _, body = e.jarviceCall("form", "history", args(alice, "target", "mine", "limit", "1"))
	if !regexp.MustCompile(`^[0-9.a-zµ]+ ago pull by alice: refused \((400|503)\)\n$`).Match(body) {
		t.Errorf("history limit=1 with relative times: %q", body)
	}
	for _, target := range []string{"pub", "bobs", "nope"} {
		if code, _, body := e.jarviceCall("get", "history", args(alice, "target", target)); code != 200 || len(body) != 0 {
			t.Errorf("history of %s: %d %q, want blank", target, code, body)
		}
	}
	if code, _, _ := e.jarviceCall("get", "history", args(alice, "target", "mine", "reltime", "maybe")); code != 400 {
		t.Errorf("history reltime=maybe: %d, want 400", code)
	}
}

// pullStatus is the status of a /jarvice/pull reply.
func pullStatus(t *testing.T, body []byte) string {
	t.Helper()
	var r structs.JarviceAction
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("reply %s: %v", body, err)
	}
	return r.Status
}

// TestJarviceBuild: Flotilla builds no images; /jarvice/build checks its
// target as the reference does (it exists, the caller may publish it)
// and answers 400 saying so and what to use instead; abort has no build
// to abort. Nothing changes.
func TestJarviceBuild(t *testing.T) {
	e, alice, _ := pushToComputeEnv(t)
	args := func(kv ...string) url.Values {
		v := url.Values{"username": {"alice"}, "apikey": {alice}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	before := e.index()
	for name, c := range map[string]struct {
		args url.Values
		code int
		want string
	}{
		"build":          {args("target", "mine"), 400, "Flotilla does not build images"},
		"build and pull": {args("target", "mine", "pull", "true"), 400, "/jarvice/pull with repo=IMAGE target=mine"},
		"abort":          {args("target", "mine", "abort", "true"), 400, `no build of \"mine\" is running`},
		"bad abort":      {args("target", "mine", "abort", "maybe"), 400, "abort: want true or false"},
		"bad pull":       {args("target", "mine", "pull", "2"), 400, "pull: want true or false"},
		"no target":      {args(), 400, "target is required"},
		"unknown target": {args("target", "nope"), 404, `app \"nope\"`},
		"not publisher":  {args("target", "pub"), 403, ""},
	} {
		for _, form := range []string{"get", "form", "json"} {
			code, _, body := e.jarviceCall(form, "build", c.args)
			if code != c.code || !strings.Contains(string(body), c.want) || !strings.Contains(string(body), `"error"`) {
				t.Errorf("%s/%s: %d %s, want %d with %q", name, form, code, body, c.code, c.want)
			}
		}
	}
	if e.index() != before {
		t.Errorf("build calls changed the state")
	}
}

// TestJarvicePullTagMoved: an app keeps the image its last pull pinned
// when the tag is pushed again — its image and AppDef stay, the agents'
// catalog does not change, so no node pulls the moved tag — until a pull
// is asked for: it reads the tag again and takes the new digest and the
// new image's AppDef (JARVICE's CI/CD flow: push, then pull).
func TestJarvicePullTagMoved(t *testing.T) {
	e, alice, _ := pushToComputeEnv(t)
	reg := newTestRegistry(t, "", "")
	ref, first := reg.push("apps/mine:latest", appDefImage("First"))
	args := url.Values{"username": {"alice"}, "apikey": {alice}, "repo": {ref}, "target": {"mine"}}
	if code, _, body := e.jarviceCall("get", "pull", args); code != 200 {
		t.Fatalf("pull: %d %s", code, body)
	}
	before := e.index()
	_, second := reg.push("apps/mine:latest", appDefImage("Second"))
	if second == first {
		t.Fatal("the tag did not move")
	}
	a := value[*structs.App](t)(e.admin.GetApp(e.ctx(), "mine"))
	if e.index() != before || a.Image != ref+"@"+first || a.AppDef.Name != "First" {
		t.Errorf("after the tag moved: image %q, AppDef %q: want the pulled %s and First, unchanged", a.Image, a.AppDef.Name, first)
	}
	code, _, body := e.jarviceCall("json", "pull", args)
	a = value[*structs.App](t)(e.admin.GetApp(e.ctx(), "mine"))
	if code != 200 || pullStatus(t, body) != "Pull successfully scheduled" || a.Image != ref+"@"+second || a.AppDef.Name != "Second" {
		t.Errorf("pull of the moved tag: %d %s, image %q, AppDef %q: want %s and Second", code, body, a.Image, a.AppDef.Name, second)
	}
	cat := value[*structs.AgentCatalog](t)(e.agent.AgentCatalog(e.ctx(), "east", 0, 0))
	for _, c := range cat.Apps {
		if c.Name == "mine" && c.Image != ref+"@"+second {
			t.Errorf("agent catalog image %q, want the new digest", c.Image)
		}
	}
}

// TestJarvicePullAppDef: the AppDef a pulled image carries replaces the
// app's (a pull of the same image restores it after an edit); an image
// without one keeps the app's; an image whose AppDef is not JSON or not
// valid is refused with every error and changes nothing; an app
// registered from an image (origin image:REF) may be pulled, and its
// origin follows the image.
func TestJarvicePullAppDef(t *testing.T) {
	e, alice, _ := pushToComputeEnv(t)
	reg := newTestRegistry(t, "", "")
	good, _ := reg.push("apps/good:1", appDefImage("Good"))
	plain, plainDigest := reg.push("apps/plain:1", map[string]string{"opt/run.sh": "#!/bin/sh\n"})
	notJSON, _ := reg.push("apps/notjson:1", map[string]string{"etc/NAE/AppDef.json": `{"name": "x", "commands": {},}`})
	bad, _ := reg.push("apps/invalid:1", map[string]string{"etc/NAE/AppDef.json": `{"name": "x", "vault-types": ["TAPE"],
		"commands": {"Run": {"path": "", "parameters": {"n": {"type": "INT", "min": 5, "max": 1}}}}}`})
	ctx := e.ctx()
	pull := func(repo, target string) (int, []byte) {
		code, _, body := e.jarviceCall("get", "pull", url.Values{"username": {"alice"}, "apikey": {alice}, "repo": {repo}, "target": {target}})
		return code, body
	}
	app := func(name string) *structs.App { return value[*structs.App](t)(e.admin.GetApp(ctx, name)) }

	if code, body := pull(good, "mine"); code != 200 || app("mine").AppDef.Name != "Good" {
		t.Fatalf("pull: %d %s, AppDef %q", code, body, app("mine").AppDef.Name)
	}
	edited := app("mine")
	edited.AppDef = structs.AppDef{Name: "Edited", Commands: map[string]structs.Command{"run": {Path: "/run"}}}
	e.must(e.alice.PutApp(ctx, edited))
	if code, body := pull(good, "mine"); code != 200 || pullStatus(t, body) != "Pull successfully scheduled" || app("mine").AppDef.Name != "Good" {
		t.Errorf("pull of the same image after an edit: %d %s, AppDef %q: want the image's again", code, body, app("mine").AppDef.Name)
	}
	if code, body := pull(plain, "mine"); code != 200 || app("mine").Image != plain+"@"+plainDigest || app("mine").AppDef.Name != "Good" {
		t.Errorf("pull of an image without an AppDef: %d %s, app %+v: want the image set and the AppDef kept", code, body, app("mine"))
	}
	before := e.index()
	for repo, want := range map[string][]string{
		notJSON: {"not valid JSON", "line 1"},
		bad:     {`unknown vault type \"TAPE\"`, "$.commands.Run.path: required", "min 5 is greater than max 1", `"errors"`},
	} {
		code, body := pull(repo, "mine")
		for _, w := range want {
			if code != 400 || !strings.Contains(string(body), w) {
				t.Errorf("pull of %s: %d %s, want 400 with %q", repo, code, body, w)
			}
		}
	}
	if e.index() != before {
		t.Error("refused pulls changed the state")
	}

	registered := &structs.App{Name: "imaged", Visibility: structs.VisibilityPrivate, Image: plain, Origin: "image:" + plain,
		AppDef: structs.AppDef{Name: "Imaged", Commands: map[string]structs.Command{"run": {Path: "/run"}}}}
	e.must(e.alice.PutApp(ctx, registered))
	if code, body := pull(good, "imaged"); code != 200 || app("imaged").Origin != "image:"+app("imaged").Image ||
		!strings.HasPrefix(app("imaged").Image, good+"@sha256:") || app("imaged").AppDef.Name != "Good" {
		t.Errorf("pull into an app registered from an image: %d %s, app %+v", code, body, app("imaged"))
	}
}

// TestJarvicePullCredential: the hub reads a private registry with the
// target app's pull credential; without one the registry's refusal is a
// 400 naming its status only, and nothing changes. The credential is
// never shown back, in the reply, the history or the audit trail.
func TestJarvicePullCredential(t *testing.T) {
	e, alice, _ := pushToComputeEnv(t)
	reg := newTestRegistry(t, "robot", "pull-pass-7d1f")
	ref, digest := reg.push("private/mine:1", appDefImage("Private"))
	ctx := e.ctx()
	args := url.Values{"username": {"alice"}, "apikey": {alice}, "repo": {ref}, "target": {"mine"}}
	before := e.index()
	code, _, body := e.jarviceCall("get", "pull", args)
	if code != 400 || !strings.Contains(string(body), "the registry answered 401") || e.index() != before {
		t.Errorf("pull without a credential: %d %s: want 400 naming the registry's 401, nothing changed", code, body)
	}
	cred := `{"auths":{"` + reg.host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("robot:pull-pass-7d1f")) + `"}}}`
	e.must(e.alice.SetAppPullSecret(ctx, "mine", cred))
	code, _, body = e.jarviceCall("form", "pull", args)
	a := value[*structs.App](t)(e.admin.GetApp(ctx, "mine"))
	if code != 200 || a.Image != ref+"@"+digest || a.AppDef.Name != "Private" {
		t.Errorf("pull with the app's credential: %d %s, image %q", code, body, a.Image)
	}
	_, _, hist := e.jarviceCall("get", "history", url.Values{"username": {"alice"}, "apikey": {alice}, "target": {"mine"}})
	events := value[[]*structs.AuditEvent](t)(e.admin.Audit(ctx, client.AuditQuery{}))
	for _, leak := range []string{"pull-pass-7d1f", base64.StdEncoding.EncodeToString([]byte("robot:pull-pass-7d1f"))} {
		if strings.Contains(string(body), leak) || strings.Contains(string(hist), leak) || strings.Contains(fmt.Sprint(events), leak) {
			t.Errorf("the credential shows in a reply, the history or the audit trail")
		}
	}
}
