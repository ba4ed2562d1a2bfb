package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestJarviceAudit: /jarvice/audit is the audit trail as text for system
// administrators, one event a line (nine tab-separated fields), the last
// `lines` of those matching quser, category and resource; everyone else
// is refused, and a bad category or lines is 400.
func TestJarviceAudit(t *testing.T) {
	e, alice, _ := pushToComputeEnv(t)
	admin, key := hubAdmin(e.env), e.keys["global"]
	j := value[*structs.Job](t)(e.alice.SubmitJob(e.ctx(), structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1}))
	for _, repo := range []string{"r/mine:2", "r/mine:3"} {
		if code, _, body := e.jarviceCall("get", "pull", url.Values{"username": {"alice"}, "apikey": {alice},
			"repo": {repo}, "target": {"mine"}}); code != 200 {
			t.Fatalf("pull: %d %s", code, body)
		}
	}
	audit := func(form string, kv ...string) (int, string, []string) {
		t.Helper()
		v := url.Values{"username": {admin}, "apikey": {key}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		code, ct, body := e.jarviceCall(form, "audit", v)
		text := strings.TrimSpace(string(body))
		if code != 200 || text == "" {
			return code, ct, nil
		}
		return code, ct, strings.Split(text, "\n")
	}
	for _, form := range []string{"get", "form", "json"} {
		code, ct, lines := audit(form, "category", "dockerpull")
		if code != 200 || ct != "text/plain" || len(lines) != 2 {
			t.Fatalf("%s: category=dockerpull: %d %s %q, want the 2 pulls", form, code, ct, lines)
		}
		f := strings.Split(lines[1], "\t")
		want := []string{"alice", "dockerpull", "app.pull", "mine", "ok", "200"}
		if len(f) != 9 || strings.Join(f[1:7], " ") != strings.Join(want, " ") || f[8] != "repo r/mine:3" {
			t.Errorf("%s: line %q: want fields time, %v, source, detail \"repo r/mine:3\"", form, lines[1], want)
		}
	}
	_, _, lines := audit("get", "category", "job", "quser", "alice")
	if len(lines) != 1 || !strings.Contains(lines[0], "\tjob.submit\t"+j.ID+"\t") {
		t.Errorf("category=job quser=alice: %q, want alice's submit", lines)
	}
	_, _, lines = audit("get", "resource", "app/mine", "lines", "1")
	if len(lines) != 1 || !strings.HasSuffix(lines[0], "repo r/mine:3") {
		t.Errorf("resource=app/mine lines=1: %q, want the last pull", lines)
	}
	_, _, all := audit("get", "lines", "0")
	_, _, hundred := audit("get")
	if len(all) < 5 || len(hundred) != min(len(all), 100) {
		t.Errorf("lines=0 gave %d events, the default %d", len(all), len(hundred))
	}
	for _, c := range [][]string{{"quser", "root"}, {"category", "ip"}, {"quser", "nobody"}} {
		if code, _, lines := audit("get", c...); code != 200 || len(lines) != 0 {
			t.Errorf("%v: %d %q, want none (no agent acted; Flotilla assigns no addresses)", c, code, lines)
		}
	}
	for name, c := range map[string]struct {
		args url.Values
		code int
		want string
	}{
		"not admin":    {url.Values{"username": {"alice"}, "apikey": {alice}}, 403, "administrators only"},
		"bad key":      {url.Values{"username": {admin}, "apikey": {"flk_nope"}}, 401, ""},
		"bad category": {url.Values{"username": {admin}, "apikey": {key}, "category": {"jobs"}}, 400, "want one of apps, dockerpull"},
		"bad lines":    {url.Values{"username": {admin}, "apikey": {key}, "lines": {"-1"}}, 400, "lines"},
	} {
		for _, form := range []string{"get", "form", "json"} {
			code, _, body := e.jarviceCall(form, "audit", c.args)
			if code != c.code || !strings.Contains(string(body), c.want) || !strings.Contains(string(body), `"error"`) {
				t.Errorf("%s/%s: %d %s, want %d with %q", name, form, code, body, c.code, c.want)
			}
		}
	}
}

// TestJarviceLicenseAndScreenshot: /jarvice/license is for system
// administrators, who learn there is no license (404); /jarvice/screenshot
// takes the reference's arguments and answers a running interactive job
// with the reference's 501 (no image: the hub captures no screens), a job
// not running 404, a batch job 400, bad arguments 400.
func TestJarviceLicenseAndScreenshot(t *testing.T) {
	e := newAgentEnv(t)
	ctx := e.ctx()
	alice, admin, key := e.keys["alice"], hubAdmin(e.env), e.keys["global"]
	for _, form := range []string{"get", "form", "json"} {
		code, _, body := e.jarviceCall(form, "license", url.Values{"username": {admin}, "apikey": {key}})
		var eb structs.ErrorBody
		if code != http.StatusNotFound || json.Unmarshal(body, &eb) != nil || !strings.Contains(eb.Error, "no license") {
			t.Errorf("license/%s: %d %s, want 404 saying there is none", form, code, body)
		}
		if code, _, body := e.jarviceCall(form, "license", url.Values{"username": {"alice"}, "apikey": {alice}}); code != 403 {
			t.Errorf("license by a user/%s: %d %s, want 403", form, code, body)
		}
	}

	e.must(e.admin.PutApp(ctx, &structs.App{Name: "desk", Visibility: structs.VisibilityPublic, Image: "r/desk:1",
		AppDef: structs.AppDef{Name: "Desk", Commands: map[string]structs.Command{"gui": {Path: "/gui", Interactive: true,
			URL: "https://%PUBLICADDR%/?token=%RANDOM64%"}}}}))
	submit := func(app, cmd string) *structs.Job {
		return value[*structs.Job](t)(e.alice.SubmitJob(ctx, structs.JobSubmitRequest{App: app, Command: cmd, MachineType: "n1", Nodes: 1}))
	}
	queued, batch, gui := submit("pub", ""), submit("pub", ""), submit("desk", "gui")
	e.runningOn(batch.ID)
	e.interactiveOn(gui.ID)
	num := func(j *structs.Job) string { return fmt.Sprint(j.Number) }
	before := e.index()
	for name, c := range map[string]struct {
		kv   []string
		code int
		want string
	}{
		"interactive":      {[]string{"number", num(gui)}, 501, "no screenshot available"},
		"sized":            {[]string{"name", gui.Name, "width", "640", "height", "480", "emphatic", "true"}, 501, "/jarvice/connect"},
		"not running":      {[]string{"number", num(queued)}, 404, "Running job is not found"},
		"batch":            {[]string{"number", num(batch)}, 400, "does not run an interactive command"},
		"no job":           {nil, 400, "name or number is required"},
		"unknown job":      {[]string{"number", "99999"}, 404, ""},
		"bad width":        {[]string{"number", num(gui), "width", "-5"}, 400, "width"},
		"bad height":       {[]string{"number", num(gui), "height", "tall"}, 400, "height"},
		"bad emphatic":     {[]string{"number", num(gui), "emphatic", "very"}, 400, "emphatic"},
		"bad key":          {[]string{"number", num(gui), "username", admin, "apikey", "flk_nope"}, 401, ""},
		"wrong name given": {[]string{"name", "x-" + num(gui)}, 404, ""},
	} {
		v := url.Values{"username": {"alice"}, "apikey": {alice}}
		for i := 0; i+1 < len(c.kv); i += 2 {
			v.Set(c.kv[i], c.kv[i+1])
		}
		for _, form := range []string{"get", "form", "json"} {
			code, ct, body := e.jarviceCall(form, "screenshot", v)
			var eb structs.ErrorBody
			if code != c.code || ct != "application/json" || json.Unmarshal(body, &eb) != nil || !strings.Contains(eb.Error, c.want) {
				t.Errorf("%s/%s: %d %s %s, want %d with %q", name, form, code, ct, body, c.code, c.want)
			}
		}
	}
	if e.index() != before {
		t.Errorf("screenshot calls changed the state")
	}
}
