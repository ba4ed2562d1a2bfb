package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
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
	reg := newTestRegistry(t, "", "")
	ref2, _ := reg.push("r/mine:2", appDefImage("Mine"))
	ref3, dig3 := reg.push("r/mine:3", appDefImage("Mine"))
	for _, repo := range []string{ref2, ref3} {
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
		if len(f) != 9 || strings.Join(f[1:7], " ") != strings.Join(want, " ") || f[8] != "repo "+ref3+"@"+dig3 {
			t.Errorf("%s: line %q: want fields time, %v, source, detail \"repo %s@%s\"", form, lines[1], want, ref3, dig3)
		}
	}
	_, _, lines := audit("get", "category", "job", "quser", "alice")
	if len(lines) != 1 || !strings.Contains(lines[0], "\tjob.submit\t"+j.ID+"\t") {
		t.Errorf("category=job quser=alice: %q, want alice's submit", lines)
	}
	_, _, lines = audit("get", "resource", "app/mine", "lines", "1")
	if len(lines) != 1 || !strings.HasSuffix(lines[0], "repo "+ref3+"@"+dig3) {
		t.Errorf("resource=app/mine lines=1: %q, want the last pull", lines)
	}
	_, _, all := audit("get", "lines", "0")
	_, _, two := audit("get", "lines", "2")
	if len(all) < 5 || len(two) != 2 || two[1] != all[len(all)-1] || two[0] != all[len(all)-2] {
		t.Errorf("lines=0 gave %d events, lines=2 %q: want the last two", len(all), two)
	}
	// Older events: the query reads back further until it has the lines.
	for _, age := range []time.Duration{40 * 24 * time.Hour, 3 * 24 * time.Hour, 2 * time.Hour} {
		if _, err := e.c.Hub(0).Write(e.ctx(), &fsm.AuditAppend{Event: structs.AuditEvent{ID: structs.NewAuditID(),
			Time: time.Now().Add(-age).UTC(), Actor: "carol", Action: "app.update", ObjectKind: "app", ObjectName: "ancient",
			Outcome: "ok", Status: 200, Detail: age.String()}}); err != nil {
			t.Fatal(err)
		}
	}
	for n, want := range map[string][]string{"3": {"960h0m0s", "72h0m0s", "2h0m0s"}, "1": {"2h0m0s"}, "2": {"72h0m0s", "2h0m0s"}} {
		_, _, lines := audit("get", "quser", "carol", "lines", n)
		var got []string
		for _, l := range lines {
			f := strings.Split(l, "\t")
			got = append(got, f[len(f)-1])
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("carol's events, lines=%s: %q, want the details %v", n, lines, want)
		}
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
		"many lines":   {url.Values{"username": {admin}, "apikey": {key}, "lines": {"10001"}}, 400, "lines: want 1..10000"},
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
