// Package appdefsweep runs every AppDef file of a directory through
// everything in Flotilla that reads an AppDef, against a real hub: the
// validator (appdef.Parse), every command's line with its defaults
// (appdef.Build), registration with the CLI (`flotilla app register
// FILE`, PUT /v1/apps/{name}), the JARVICE API (/jarvice/validate,
// /jarvice/apps and /jarvice/appdef read as python-jarviceapi's models
// read them, /jarvice/submit with the defaults), and the portal (the
// catalog card and its icon, the submit form of every command, and a
// submission of that form as the page fills it). It tabulates each file
// as loaded, loaded with warnings or refused, with the reason, and fails
// on what no AppDef may cause: a panic, a 5xx, two entry points that
// disagree, a form without a control for a parameter, a default
// submission refused although the AppDef accepts it.
//
// By default it sweeps the repository's own reference AppDefs. Point it
// at other files (public AppDefs stay outside the repository) with
//
//	go test ./test/appdefsweep -appdefs DIR [-table FILE] -v
package appdefsweep

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/cli"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

var (
	dirFlag   = flag.String("appdefs", "../../catalog-sync/appdef/testdata/reference", "directory of AppDef JSON files to sweep")
	tableFlag = flag.String("table", "", "write the outcome of every file here as tab-separated values")
)

// machineTypes cover the machine patterns public AppDefs use (JARVICE's
// own names: n*, nc*, ng*, ngd*, np8*, nx*, ...).
var machineTypes = []string{"n0", "n1", "n2", "n3", "n4", "n5", "n9", "n32", "nc3", "nc12", "ng0", "ng4", "ngd5", "ngo8",
	"np8g1", "np8c0", "np8gk1", "np9g4", "na0", "nx5u", "nx5u_xdma_201830_1", "nx_u200_202020", "micro1", "slurm1",
	"np8f1", "np8g4", "nx5", "n2-a", "ng1-a", "nc1-a", "a_ingrain", "ng2", "ng5", "np8c1", "np8g1_", "npc1", "npg4", "np9g4-gtc-demo"}

const (
	uploadContent = "sample upload\n"
	tenant        = "sweep"
	user          = "sweeper"
	password      = "pw-sweeper-secret"
)

// outcome is one file's row of the table.
type outcome struct {
	file, status, reason string
	problems             []string // what must not happen
	notes                []string // what happened and is as designed
}

func (o *outcome) problem(format string, a ...any) {
	o.problems = append(o.problems, fmt.Sprintf(format, a...))
}

func (o *outcome) note(format string, a ...any) { o.notes = append(o.notes, fmt.Sprintf(format, a...)) }

// TestAppDefSweep sweeps -appdefs (see the package documentation).
func TestAppDefSweep(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(*dirFlag, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no AppDef files in %s (%v)", *dirFlag, err)
	}
	sort.Strings(files)
	s := newSweep(t)
	var rows []*outcome
	counts := map[string]int{}
	for i, f := range files {
		o := s.file(fmt.Sprintf("a%04d", i), f)
		rows = append(rows, o)
		counts[o.status]++
		for _, p := range o.problems {
			t.Errorf("%s: %s", filepath.Base(f), p)
		}
	}
	t.Logf("%d files: %d loaded, %d loaded with warnings, %d refused", len(files), counts["loaded"], counts["warnings"], counts["refused"])
	if *tableFlag != "" {
		var b strings.Builder
		b.WriteString("file\tstatus\treason\tnotes\tproblems\n")
		for _, o := range rows {
			fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\n", filepath.Base(o.file), o.status, o.reason, strings.Join(o.notes, "; "), strings.Join(o.problems, "; "))
		}
		if err := os.WriteFile(*tableFlag, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sweep is the hub the files go through, its administrator and a user of
// the portal.
type sweep struct {
	t      *testing.T
	hubs   *hubtest.Cluster
	url    string
	key    string
	web    *http.Client
	csrf   string
	mtypes []string
}

func newSweep(t *testing.T) *sweep {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hubs := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	if _, err := hubs.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	adm, err := client.New(hubs.URLs(), hubs.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutCluster(ctx, "east", &structs.ClusterSpec{}); err != nil {
		t.Fatal(err)
	}
	for _, m := range machineTypes {
		if _, err := adm.PutMachineType(ctx, &structs.MachineType{Name: m, Cores: 16, Slots: 16, RAM: 64, ScaleMax: 4, Cluster: "east"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := adm.PutTenant(ctx, &structs.Tenant{Name: tenant}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutUser(ctx, user, &structs.UserSpec{Tenant: tenant, Role: structs.RoleUser, Password: password}); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	s := &sweep{t: t, hubs: hubs, url: hubs.URL(0), key: hubs.AdminKey, mtypes: machineTypes,
		web: &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	_, page, _ := s.page("GET", "/ui/login", nil, "")
	code, _, h := s.page("POST", "/ui/login", strings.NewReader(url.Values{"csrf": {csrfOf(page)}, "username": {user}, "password": {password}}.Encode()),
		"application/x-www-form-urlencoded")
	if code != http.StatusSeeOther {
		t.Fatalf("portal login: %d %s", code, h.Get("Location"))
	}
	_, page, _ = s.page("GET", "/ui/jobs", nil, "")
	s.csrf = csrfOf(page)
	return s
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(page string) string {
	if m := csrfRE.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

// api sends a request as the administrator.
func (s *sweep) api(method, p string, body []byte) (int, []byte) {
	req, err := http.NewRequest(method, s.url+p, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, out
}

// page sends a request as the portal user.
func (s *sweep) page(method, p string, body io.Reader, ctype string) (int, string, http.Header) {
	req, err := http.NewRequest(method, s.url+p, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := s.web.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(out), res.Header
}

// file sweeps one AppDef file as app name.
func (s *sweep) file(name, file string) *outcome {
	o := &outcome{file: file}
	raw, err := os.ReadFile(file)
	if err != nil {
		o.problem("read: %v", err)
		return o
	}
	def, res := appdef.Parse(raw)
	warnings := res.Warnings()
	switch {
	case res.Err() != nil:
		o.status, o.reason = "refused", firstLine(res.Err().Error())
	case len(warnings) > 0:
		o.status, o.reason = "warnings", strings.Join(warnings, " | ")
	default:
		o.status = "loaded"
	}
	s.validate(o, raw, res.Err() == nil, warnings)
	s.register(o, name, file, res.Err() == nil)
	if res.Err() != nil {
		return o
	}
	for _, c := range def.Commands {
		if _, err := appdef.Build(c, sampleValues(c), appdef.Vars{Cores: 16, Nodes: 1, MachineType: "n3"}); err != nil {
			o.problem("Build %s with defaults: %v", c.Key, err)
		}
	}
	s.jarviceReads(o, name, def)
	s.catalogCard(o, name, raw)
	for _, c := range def.Commands {
		s.portalForm(o, name, c)
		s.jarviceSubmit(o, name, c)
	}
	// the next file's catalog page lists one app, not all swept so far
	if code, body := s.api("DELETE", "/v1/apps/"+name, nil); code != http.StatusOK && code != http.StatusNoContent {
		o.problem("DELETE app: %d %s", code, body)
	}
	return o
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// validate posts the file to /jarvice/validate: the same verdict and
// warnings as appdef.Parse.
func (s *sweep) validate(o *outcome, raw []byte, ok bool, warnings []string) {
	code, body := s.api("POST", "/jarvice/validate", raw)
	var reply struct {
		Valid    bool     `json:"valid"`
		Warnings []string `json:"warnings"`
	}
	switch {
	case code >= 500:
		o.problem("/jarvice/validate: %d %s", code, body)
	case ok && (code != 200 || json.Unmarshal(body, &reply) != nil || !reply.Valid):
		o.problem("/jarvice/validate refused what Parse accepts: %d %s", code, body)
	case ok && !slices.Equal(reply.Warnings, warnings):
		o.problem("/jarvice/validate warnings %q, Parse %q", reply.Warnings, warnings)
	case !ok && code != http.StatusBadRequest:
		o.problem("/jarvice/validate accepted what Parse refuses: %d", code)
	}
}

// register runs `flotilla app register FILE`: exit 0 exactly when Parse
// accepts the file, and the app is then registered.
func (s *sweep) register(o *outcome, name, file string, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	env := map[string]string{cli.EnvAPIKey: s.key}
	code := cli.Run(ctx, []string{"--hub", s.url, "app", "register", file, "-name", name, "-image", "registry.example/" + name + ":1"},
		&out, &errb, func(k string) string { return env[k] })
	switch {
	case ok && code != cli.ExitOK:
		o.problem("app register: exit %d: %s", code, errb.String())
	case !ok && code == cli.ExitOK:
		o.problem("app register accepted what Parse refuses")
	case !ok && code != cli.ExitUsage:
		o.problem("app register of a refused file: exit %d, want %d: %s", code, cli.ExitUsage, errb.String())
	}
}

// jarviceReads reads the app back through /jarvice/apps and
// /jarvice/appdef and checks every field against python-jarviceapi's
// models.
func (s *sweep) jarviceReads(o *outcome, name string, def *appdef.Def) {
	q := url.Values{"username": {hubtest.Admin}, "apikey": {s.key}, "name": {name}}.Encode()
	code, body := s.api("GET", "/jarvice/apps?"+q, nil)
	apps := map[string]any{}
	if code != 200 || decodeNumbers(body, &apps) != nil || apps[name] == nil {
		o.problem("/jarvice/apps: %d %.200s", code, body)
	} else {
		for _, p := range checkModel("apps."+name, apps[name], "App") {
			o.problem("/jarvice/apps: %s", p)
		}
	}
	code, body = s.api("GET", "/jarvice/appdef?"+q, nil)
	served := map[string]any{}
	if code != 200 || decodeNumbers(body, &served) != nil {
		o.problem("/jarvice/appdef: %d %.200s", code, body)
		return
	}
	for _, p := range checkModel("appdef", served, "AppDef") {
		o.problem("/jarvice/appdef: %s", p)
	}
	cmds, _ := served["commands"].(map[string]any)
	for _, c := range def.Commands {
		if cmds[c.Key] == nil {
			o.problem("/jarvice/appdef: command %q missing", c.Key)
		}
	}
}

func decodeNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// catalogCard finds the app's card in the catalog: an icon exactly when
// Flotilla shows the AppDef's image, and the icon served as an image.
func (s *sweep) catalogCard(o *outcome, name string, raw []byte) {
	var sd structs.AppDef
	if err := json.Unmarshal(raw, &sd); err != nil {
		o.problem("structs.AppDef: %v", err)
		return
	}
	_, _, shown := appdef.IconOf(&sd)
	code, page, _ := s.page("GET", "/ui/catalog", nil, "")
	if code != 200 {
		o.problem("catalog: %d", code)
		return
	}
	img := strings.Contains(page, `src="/ui/apps/`+name+`/icon"`)
	if img != shown {
		o.problem("catalog card: icon image %v, but the icon is shown=%v", img, shown)
	}
	code, _, h := s.page("GET", "/ui/apps/"+name+"/icon", nil, "")
	if shown && (code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "image/")) {
		o.problem("portal icon: %d %s", code, h.Get("Content-Type"))
	}
	if !shown && code != 404 {
		o.problem("portal icon of an icon not shown: %d", code)
	}
	if code, _, _ := s.page("GET", "/ui/apps/"+name, nil, ""); code != 200 {
		o.problem("app page: %d", code)
	}
}

// inputFor is the control the form must have for a parameter type.
var inputFor = map[string]string{
	appdef.TypeConst: `type="hidden"`, appdef.TypeString: `type="text"`, appdef.TypeInt: `type="number"`,
	appdef.TypeFloat: `type="number"`, appdef.TypeRange: `type="range"`, appdef.TypeBool: `type="checkbox"`,
	appdef.TypeSelection: `<select`, appdef.TypeFile: `type="text"`, appdef.TypeUpload: `type="file"`,
}

var (
	controlRE = regexp.MustCompile(`(?s)<(input|select)([^>]*?)\bname="p\.([^"]*)"([^>]*)>`)
	attrRE    = regexp.MustCompile(`\b(value|type|checked|id)(?:="([^"]*)")?`)
	machineRE = regexp.MustCompile(`name="machine_type" id="mt-[^"]*" value="([^"]*)" checked`)
	nodesRE   = regexp.MustCompile(`id="nodes" name="nodes" value="([0-9]*)"`)
	jobIDRE   = regexp.MustCompile(`name="job_id" value="([^"]*)"`)
)

// portalForm renders the submit form of command c, checks a control per
// parameter, and submits it as the page fills it (required fields
// without a default get a sample value): the job is made exactly when
// the hub accepts those values.
func (s *sweep) portalForm(o *outcome, name string, c *appdef.Command) {
	code, page, _ := s.page("GET", "/ui/apps/"+name+"/submit?command="+url.QueryEscape(c.Key), nil, "")
	if code != 200 {
		o.problem("form %s: %d", c.Key, code)
		return
	}
	page = htmlUnescape(page)
	controls := map[string]string{} // key -> the control's markup
	for _, m := range controlRE.FindAllStringSubmatch(page, -1) {
		controls[m[3]] = m[0]
	}
	sample := sampleValues(c)
	form := map[string]string{}
	var upload []byte
	for _, p := range c.Parameters {
		ctl, ok := controls[p.Key]
		want := inputFor[p.EffectiveType()]
		if !ok || !strings.Contains(ctl, want) {
			o.problem("form %s: parameter %q (%s) has no %s control: %q", c.Key, p.Key, p.EffectiveType(), want, ctl)
			continue
		}
		v := valueOfControl(page, ctl)
		if p.EffectiveType() == appdef.TypeUpload {
			upload = []byte(uploadContent) // always: the file reaches the job
			continue
		}
		if v == "" && sample[p.Key] != "" {
			v = sample[p.Key]
		}
		if p.EffectiveType() == appdef.TypeBool && v == "" {
			continue // unchecked
		}
		form["p."+p.Key] = v
	}
	mt := machineRE.FindStringSubmatch(page)
	if mt == nil {
		if strings.Contains(page, "No machine type this command runs on") {
			o.note("%s: no machine type of the sweep matches %q", c.Key, patternsOf(c))
			return
		}
		o.problem("form %s: no machine type chosen", c.Key)
		return
	}
	nodes, id := nodesRE.FindStringSubmatch(page), jobIDRE.FindStringSubmatch(page)
	if nodes == nil || id == nil {
		o.problem("form %s: no nodes or job id field", c.Key)
		return
	}
	form["csrf"], form["command"], form["job_id"], form["machine_type"], form["nodes"] = s.csrf, c.Key, id[1], mt[1], nodes[1]
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range form {
		_ = w.WriteField(k, v)
	}
	for _, p := range c.Parameters {
		if p.EffectiveType() == appdef.TypeUpload && upload != nil {
			fw, _ := w.CreateFormFile("p."+p.Key, "input.dat")
			_, _ = fw.Write(upload)
		}
	}
	_ = w.Close()
	code, reply, h := s.page("POST", "/ui/apps/"+name+"/submit", &body, w.FormDataContentType())
	_, buildErr := appdef.Build(c, sampleValues(c), appdef.Vars{})
	switch {
	case code == http.StatusSeeOther && strings.HasPrefix(h.Get("Location"), "/ui/jobs/"):
		if buildErr != nil {
			o.problem("form %s: the portal submitted values Build refuses: %v", c.Key, buildErr)
			return
		}
		s.sameLine(o, c, strings.TrimPrefix(h.Get("Location"), "/ui/jobs/"))
	case code >= 500:
		o.problem("form %s: submit %d", c.Key, code)
	default:
		o.problem("form %s: the default submission was refused (%d): %s", c.Key, code, formErrors(reply))
	}
}

var errRE = regexp.MustCompile(`(?s)class="(?:field-error|msg error)"[^>]*>([^<]+)<`)

func formErrors(page string) string {
	var out []string
	for _, m := range errRE.FindAllStringSubmatch(page, -1) {
		if t := strings.TrimSpace(m[1]); t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, " | ")
}

// valueOfControl is what a browser sends for a control as rendered.
func valueOfControl(page, ctl string) string {
	attrs := map[string]string{}
	for _, a := range attrRE.FindAllStringSubmatch(ctl, -1) {
		attrs[a[1]] = a[2]
	}
	switch {
	case strings.HasPrefix(ctl, "<select"):
		i := strings.Index(page, ctl)
		rest := page[i+len(ctl):]
		rest = rest[:strings.Index(rest, "</select>")]
		opts := regexp.MustCompile(`<option value="([^"]*)"\s*(selected)?`).FindAllStringSubmatch(rest, -1)
		for _, op := range opts {
			if op[2] != "" {
				return op[1]
			}
		}
		if len(opts) > 0 {
			return opts[0][1]
		}
		return ""
	case attrs["type"] == "checkbox":
		if strings.Contains(ctl, " checked") {
			return attrs["value"]
		}
		return ""
	}
	return attrs["value"]
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#43;", "+", "&#34;", `"`, "&#39;", "'", "&amp;", "&").Replace(s)
}

func patternsOf(c *appdef.Command) []string { return c.Machines }

// jarviceSubmit submits command c with its defaults (and samples for
// required parameters without one) by /jarvice/submit.
func (s *sweep) jarviceSubmit(o *outcome, name string, c *appdef.Command) {
	mt := ""
	code, body := s.api("GET", "/v1/apps/"+name, nil)
	var app structs.App
	if code != 200 || json.Unmarshal(body, &app) != nil {
		o.problem("GET app: %d", code)
		return
	}
	pats := app.AppDef.Machines
	if sc, ok := app.AppDef.Commands[c.Key]; ok && len(sc.Machines) > 0 {
		pats = sc.Machines
	}
	for _, m := range s.mtypes {
		if len(pats) == 0 || slices.ContainsFunc(pats, func(p string) bool { ok, _ := path.Match(p, m); return ok }) {
			mt = m
			break
		}
	}
	if mt == "" {
		return // noted by the form
	}
	params := map[string]any{}
	for k, v := range sampleValues(c) {
		params[k] = v
	}
	req, _ := json.Marshal(map[string]any{"app": name, "application": map[string]any{"command": c.Key, "parameters": params},
		"machine": map[string]any{"type": mt, "nodes": 1}, "user": map[string]any{"username": hubtest.Admin, "apikey": s.key}})
	code, body = s.api("POST", "/jarvice/submit", req)
	if code != 200 || !bytes.Contains(body, []byte(`"number"`)) {
		o.problem("/jarvice/submit %s with defaults: %d %s", c.Key, code, body)
	}
}

// sampleValues are values for the required parameters without a default
// (a user must give them), each of its type and within its range.
func sampleValues(c *appdef.Command) map[string]string {
	out := map[string]string{}
	for _, p := range c.Parameters {
		t := p.EffectiveType()
		if !p.Required || t == appdef.TypeConst || t == appdef.TypeBool || (hasDefault(p) && t != appdef.TypeUpload) {
			continue
		}
		switch p.EffectiveType() {
		case appdef.TypeString:
			out[p.Key] = "x"
		case appdef.TypeInt, appdef.TypeRange, appdef.TypeFloat:
			out[p.Key] = "1"
			if p.Min.Set {
				out[p.Key] = p.Min.Text
			}
		case appdef.TypeSelection:
			if len(p.Values) > 0 {
				out[p.Key] = p.Values[0]
			}
		case appdef.TypeFile:
			// a name the filter's first alternative takes ("*.png|*.jpg",
			// ".json": a suffix)
			f, _, _ := strings.Cut(p.Filter, "|")
			if !strings.ContainsAny(f, "*?[") {
				f = "*" + f
			}
			out[p.Key] = "/data/" + strings.ReplaceAll(strings.ReplaceAll(f, "*", "input"), "?", "x")
		case appdef.TypeUpload:
			out[p.Key] = base64.StdEncoding.EncodeToString([]byte(uploadContent))
		}
	}
	return out
}

// hasDefault: the parameter's value is a default a job gets (an empty
// string is none: the user must fill the field).
func hasDefault(p *appdef.Parameter) bool {
	return p.Value != nil && string(p.Value) != `""` && string(p.Value) != "null"
}

// sameLine: the job the portal made of the form as the page fills it
// runs the command line the defaults give (the form shows the defaults
// the job gets).
func (s *sweep) sameLine(o *outcome, c *appdef.Command, id string) {
	code, body := s.api("GET", "/v1/jobs/"+id, nil)
	var j structs.Job
	if code != 200 || json.Unmarshal(body, &j) != nil {
		o.problem("form %s: job %s: %d", c.Key, id, code)
		return
	}
	vars := appdef.Vars{Cores: 16, Nodes: 1, MachineType: "n3"}
	want, _ := appdef.Build(c, sampleValues(c), vars)
	got, err := appdef.Build(c, j.Parameters, vars)
	if err != nil {
		o.problem("form %s: the job's parameters: %v", c.Key, err)
		return
	}
	for _, u := range got.Uploads {
		if string(u.Data) != uploadContent {
			o.problem("form %s: the job's upload %s holds %q, the file sent %q", c.Key, u.Path, u.Data, uploadContent)
		}
	}
	if !slices.Equal(want.Argv, got.Argv) || fmt.Sprint(want.Env) != fmt.Sprint(got.Env) {
		o.problem("form %s: the form's job runs %q %v, the defaults %q %v", c.Key, got.Argv, got.Env, want.Argv, want.Env)
	}
}
