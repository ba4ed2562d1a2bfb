package api_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

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
// send it (query, form, JSON, curl -F), makes repo the target app's image
// for the caller who may publish it, and the cluster's agent is told to
// pull it (its catalog lists the new image); the same image again changes
// nothing. Every refusal is a 4xx with the reason and changes nothing.
// /jarvice/history lists the pulls, most recent first.
func TestJarvicePull(t *testing.T) {
	e, alice, bob := pushToComputeEnv(t)
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
	image := func() (string, uint64) {
		a := value[*structs.App](t)(e.admin.GetApp(ctx, "mine"))
		return a.Image, a.ModifyIndex
	}
	status := func(body []byte) string {
		var r structs.JarviceAction
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("reply %s: %v", body, err)
		}
		return r.Status
	}

	code, _, body := e.jarviceCall("get", "pull", args(alice, "repo", "r/mine:2", "target", "mine"))
	if code != http.StatusOK || status(body) != "Pull successfully scheduled" {
		t.Fatalf("pull: %d %s", code, body)
	}
	if img, _ := image(); img != "r/mine:2" {
		t.Errorf("app image %q after the pull, want r/mine:2", img)
	}
	cat := value[*structs.AgentCatalog](t)(e.agent.AgentCatalog(ctx, "east", 0, 0))
	found := false
	for _, a := range cat.Apps {
		found = found || (a.Name == "mine" && a.Image == "r/mine:2" && len(a.MachineTypes) == 1 && a.MachineTypes[0] == "n1")
	}
	if !found {
		t.Errorf("agent catalog %+v: want mine with r/mine:2 on n1 (the agent pulls it)", cat.Apps)
	}
	_, before := image()
	code, _, body = e.jarviceCall("json", "pull", args(alice, "repo", "r/mine:2", "target", "mine"))
	if _, after := image(); code != http.StatusOK || !strings.HasPrefix(status(body), "Image unchanged") || after != before {
		t.Errorf("pull of the same image: %d %s, index %d -> %d: want unchanged", code, body, before, after)
	}
	code, body = e.jarviceMultipart("pull", args(alice, "repo", "r/mine:3", "target", "mine"))
	if img, _ := image(); code != http.StatusOK || status(body) != "Pull successfully scheduled" || img != "r/mine:3" {
		t.Errorf("curl -F pull: %d %s, image %q: want r/mine:3", code, body, img)
	}

	stateBefore := e.index()
	for name, c := range map[string]struct {
		args url.Values
		code int
		want string
	}{
		"no repo":        {args(alice, "target", "mine"), 400, "repo is required"},
		"no target":      {args(alice, "repo", "r/mine:4"), 400, "target is required"},
		"bad repo":       {args(alice, "repo", "r/Mine::4", "target", "mine"), 400, "not an image reference"},
		"unknown target": {args(alice, "repo", "r/mine:4", "target", "nope"), 404, `app \"nope\"`},
		"invisible app":  {args(alice, "repo", "r/mine:4", "target", "bobs"), 404, `app \"bobs\"`},
		"not publisher":  {args(alice, "repo", "r/mine:4", "target", "pub"), 403, ""},
		"synced app":     {args(alice, "repo", "r/mine:4", "target", "synced"), 400, "is synced from images:ci"},
		"other's app":    {args(bob, "repo", "r/mine:4", "target", "mine"), 404, ""},
		"bad key":        {args("flk_nope", "repo", "r/mine:4", "target", "mine"), 401, ""},
	} {
		for _, form := range []string{"get", "form", "json"} {
			code, _, body := e.jarviceCall(form, "pull", c.args)
			if code != c.code || !strings.Contains(string(body), c.want) || !strings.Contains(string(body), `"error"`) {
				t.Errorf("%s/%s: %d %s, want %d with %q", name, form, code, body, c.code, c.want)
			}
		}
	}
	if img, _ := image(); e.index() != stateBefore || img != "r/mine:3" {
		t.Errorf("refused pulls changed the state (image %q)", img)
	}

	// history: the pulls, most recent first; limit and absolute times.
	_, ct, body := e.jarviceCall("get", "history", args(alice, "target", "mine", "reltime", "false"))
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if ct != "text/plain" || len(lines) != 3 || !strings.HasSuffix(lines[0], " pull r/mine:3 by alice: scheduled") ||
		!strings.HasSuffix(lines[2], " pull r/mine:2 by alice: scheduled") {
		t.Fatalf("history %q (%s): want 3 pulls, the last first", body, ct)
	}
	if _, err := time.Parse(time.RFC3339, strings.Fields(lines[0])[0]); err != nil {
		t.Errorf("history with reltime=false: %q: %v", lines[0], err)
	}
	_, _, body = e.jarviceCall("form", "history", args(alice, "target", "mine", "limit", "1"))
	if !regexp.MustCompile(`^[0-9.a-zµ]+ ago pull r/mine:3 by alice: scheduled\n$`).Match(body) {
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
