package api_test

import (
	"bytes"
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// clock is a hub clock a test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// opsEnv is a hub on a test clock with tenant ta (team cfd, user alice,
// tenant admin tadmin), tenant tb (user bob), cluster east with machine
// types c16 (16 cores, 2.0 per node-hour) and g8 (8 cores, 2 GPUs, 5.0),
// app pub and east's agent.
type opsEnv struct {
	*env
	clk   *clock
	agent *client.Client
}

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

func newOpsEnv(t *testing.T) *opsEnv {
	clk := &clock{t: t0}
	e := newEnvWith(t, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) {
		cfg.Now = clk.Now
		cfg.JobRetention = 24 * time.Hour
		cfg.AuditRetention = 90 * 24 * time.Hour
		cfg.PurgeInterval = time.Hour // the test purges itself
	}})
	ctx, a := e.ctx(), e.admin
	e.must(a.PutTenant(ctx, &structs.Tenant{Name: "ta"}))
	e.must(a.PutTenant(ctx, &structs.Tenant{Name: "tb"}))
	e.must(a.PutTeam(ctx, &structs.Team{Tenant: "ta", Name: "cfd"}))
	e.must(a.PutCluster(ctx, "east", &structs.ClusterSpec{}))
	e.must(a.PutMachineType(ctx, &structs.MachineType{Name: "c16", Cores: 16, Slots: 16, RAM: 64, ScaleMax: 8, Cluster: "east", Price: 2}))
	e.must(a.PutMachineType(ctx, &structs.MachineType{Name: "g8", Cores: 8, GPUs: 2, Slots: 8, RAM: 64, ScaleMax: 8, Cluster: "east", Price: 5}))
	e.must(a.PutApp(ctx, &structs.App{Name: "pub", Visibility: structs.VisibilityPublic, AppDef: tinyAppDef}))
	for user, spec := range map[string]*structs.UserSpec{
		"alice":  {Tenant: "ta", Role: structs.RoleUser, Teams: []string{"cfd"}},
		"tadmin": {Tenant: "ta", Role: structs.RoleAdmin},
		"bob":    {Tenant: "tb", Role: structs.RoleUser},
	} {
		e.must(a.PutUser(ctx, user, spec))
		e.keys[user] = value[*structs.APIKeyCreated](t)(a.CreateAPIKey(ctx, user, "")).Key
	}
	agent := e.client(value[*structs.APIKeyCreated](t)(a.CreateAgentKey(ctx, "east")).Key)
	return &opsEnv{env: e, clk: clk, agent: agent}
}

// run submits a job as user, assigns it to east, reports it RUNNING at
// start and in state end at stop (the hub's clock is set to each).
func (e *opsEnv) run(user string, req structs.JobSubmitRequest, start, stop time.Time, end structs.JobState) *structs.Job {
	e.t.Helper()
	ctx := e.ctx()
	e.clk.set(start.Add(-10 * time.Minute))
	req.App, req.Command = "pub", "run"
	j := value[*structs.Job](e.t)(e.client(e.keys[user]).SubmitJob(ctx, req))
	if _, err := e.c.Hub(0).Write(ctx, &fsm.JobAssignment{ID: j.ID, Cluster: "east", Time: start}); err != nil {
		e.t.Fatal(err)
	}
	for _, step := range []struct {
		at    time.Time
		state structs.JobState
	}{{start, structs.JobRunning}, {stop, end}} {
		e.clk.set(step.at)
		res := value[*structs.ClusterStatusResult](e.t)(e.agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{
			Jobs: []structs.JobReport{{ID: j.ID, Number: j.Number, State: step.state, ExitCode: map[bool]int{true: 2}[step.state == structs.JobCompletedWithError]}}}))
		if res.Jobs[0].Outcome != structs.ReportApplied {
			e.t.Fatalf("report %s of %s: %+v", step.state, j.ID, res.Jobs[0])
		}
	}
	return j
}

// csvRows parses a CSV report into maps by column, keyed by the first column.
func csvRows(t *testing.T, b []byte) map[string]map[string]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("CSV %q: %v", b, err)
	}
	out := map[string]map[string]string{}
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, col := range rows[0] {
			m[col] = r[i]
		}
		out[r[0]] = m
	}
	return out
}

// TestAccountingExport: jobs of known durations on machine types of known
// prices give exact node-, core- and GPU-hours and cost in CSV and JSON,
// at the price that held when each ended; a job purged by retention is
// still reported; users see their own jobs, tenant administrators their
// tenant's, system administrators all, and a user asking for another's
// is refused.
func TestAccountingExport(t *testing.T) {
	e := newOpsEnv(t)
	ctx := e.ctx()
	// j1: 2 × c16 for 90 min: 3 node-h, 48 core-h, cost 6.
	j1 := e.run("alice", structs.JobSubmitRequest{MachineType: "c16", Nodes: 2, Project: "wing", Team: "cfd"},
		t0, t0.Add(90*time.Minute), structs.JobCompleted)
	// j2: 1 × g8 for 45 min: 0.75 node-h, 6 core-h, 1.5 GPU-h, cost 3.75.
	j2 := e.run("alice", structs.JobSubmitRequest{MachineType: "g8", Nodes: 1, Project: "wing"},
		t0.Add(2*time.Hour), t0.Add(2*time.Hour+45*time.Minute), structs.JobCompletedWithError)
	// c16 gets dearer: j1 stays at 2.0, j3 pays 4.0.
	e.must(e.admin.PutMachineType(ctx, &structs.MachineType{Name: "c16", Cores: 16, Slots: 16, RAM: 64, ScaleMax: 8, Cluster: "east", Price: 4}))
	// j3 (bob, tenant tb): 4 × c16 for 15 min: 1 node-h, 16 core-h, cost 4.
	j3 := e.run("bob", structs.JobSubmitRequest{MachineType: "c16", Nodes: 4},
		t0.Add(26*time.Hour), t0.Add(26*time.Hour+15*time.Minute), structs.JobCompleted)
	// j4: cancelled while queued: no hours, no cost.
	e.clk.set(t0.Add(27 * time.Hour))
	j4 := value[*structs.Job](t)(e.client(e.keys["alice"]).SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", Command: "run", MachineType: "c16", Nodes: 1}))
	e.must(e.client(e.keys["alice"]).CancelJob(ctx, j4.ID, ""))

	// Retention purges j1 and j2 (ended more than 24 h before now).
	e.clk.set(t0.Add(27*time.Hour + time.Minute))
	if n, err := e.c.Hub(0).PurgeExpired(ctx); err != nil || n != 2 {
		t.Fatalf("purge: %d, %v; want 2 purged", n, err)
	}
	if _, err := e.admin.GetJob(ctx, j1.ID, true); client.StatusOf(err) != http.StatusNotFound {
		t.Fatalf("purged job j1: %v, want 404", err)
	}

	// CSV, system administrator: every job with exact figures.
	rows := csvRows(t, value[[]byte](t)(e.admin.AccountingCSV(ctx, client.AccountingQuery{})))
	want := map[string]map[string]string{
		j1.ID: {"User": "alice", "Tenant": "ta", "Account": "cfd", "Project": "wing", "Partition": "c16", "Cluster": "east",
			"NNodes": "2", "NCPUS": "32", "NGPUS": "0", "Start": "2026-12-01T08:00:00", "End": "2026-12-01T09:30:00",
			"Elapsed": "01:30:00", "State": "COMPLETED", "Price": "2", "NodeHours": "3", "CoreHours": "48", "GPUHours": "0", "Cost": "6"},
		j2.ID: {"User": "alice", "Partition": "g8", "NNodes": "1", "NCPUS": "8", "NGPUS": "2", "Elapsed": "00:45:00",
			"State": "COMPLETED_WITH_ERROR", "ExitCode": "2", "Price": "5", "NodeHours": "0.75", "CoreHours": "6", "GPUHours": "1.5", "Cost": "3.75"},
		j3.ID: {"User": "bob", "Tenant": "tb", "NNodes": "4", "NCPUS": "64", "Price": "4", "NodeHours": "1", "CoreHours": "16", "Cost": "4"},
		j4.ID: {"User": "alice", "State": "CANCELED", "Start": "Unknown", "Elapsed": "00:00:00", "NodeHours": "0", "Cost": "0"},
	}
	if len(rows) != len(want) {
		t.Errorf("CSV has %d jobs, want %d: %v", len(rows), len(want), rows)
	}
	for id, cols := range want {
		for col, v := range cols {
			if got := rows[id][col]; got != v {
				t.Errorf("CSV job %s %s = %q, want %q", id, col, got, v)
			}
		}
	}

	// JSON, same figures.
	rep := value[*structs.AccountingReport](t)(e.admin.Accounting(ctx, client.AccountingQuery{}))
	byID := map[string]*structs.AccountingRecord{}
	for _, r := range rep.Records {
		byID[r.JobID] = r
	}
	type figures struct {
		Nodes, Cores, GPUs                          int
		Price, NodeHours, CoreHours, GPUHours, Cost float64
		Submit, Start, End                          time.Time
		BurstRule, Project, Command                 string
	}
	fig := func(r *structs.AccountingRecord) figures {
		if r == nil {
			return figures{}
		}
		return figures{r.Nodes, r.Cores, r.GPUs, r.Price, r.NodeHours, r.CoreHours, r.GPUHours, r.Cost, r.Submit, r.Start, r.End, r.BurstRule, r.Project, r.Command}
	}
	wantJSON := map[string]figures{
		j1.ID: {2, 32, 0, 2, 3, 48, 0, 6, t0.Add(-10 * time.Minute), t0, t0.Add(90 * time.Minute), "", "wing", "run"},
		j2.ID: {1, 8, 2, 5, 0.75, 6, 1.5, 3.75, t0.Add(110 * time.Minute), t0.Add(2 * time.Hour), t0.Add(165 * time.Minute), "", "wing", "run"},
		j3.ID: {4, 64, 0, 4, 1, 16, 0, 4, t0.Add(26*time.Hour - 10*time.Minute), t0.Add(26 * time.Hour), t0.Add(26*time.Hour + 15*time.Minute), "", "", "run"},
		j4.ID: {1, 16, 0, 4, 0, 0, 0, 0, t0.Add(27 * time.Hour), time.Time{}, t0.Add(27 * time.Hour), "", "", "run"},
	}
	for id, w := range wantJSON {
		if diff := cmp.Diff(w, fig(byID[id])); diff != "" {
			t.Errorf("JSON record of %s (-want +got):\n%s", id, diff)
		}
	}

	// Sums by machine type and by tenant and month, in JSON and CSV.
	sums := value[*structs.AccountingReport](t)(e.admin.Accounting(ctx, client.AccountingQuery{Group: []string{"machine_type"}})).Summaries
	gotSums := map[string][2]float64{}
	for _, s := range sums {
		gotSums[s.Key["machine_type"]] = [2]float64{s.NodeHours, s.Cost}
	}
	if diff := cmp.Diff(map[string][2]float64{"c16": {4, 10}, "g8": {0.75, 3.75}}, gotSums); diff != "" {
		t.Errorf("sums by machine type (-want +got):\n%s", diff)
	}
	sumCSV := string(value[[]byte](t)(e.admin.AccountingCSV(ctx, client.AccountingQuery{Group: []string{"tenant", "month"}})))
	if wantCSV := "tenant,month,Jobs,NodeHours,CoreHours,GPUHours,Cost,Tasks,TaskNodeHours\nta,2026-12,3,3.75,54,1.5,9.75,0,0\ntb,2026-12,1,1,16,0,4,0,0\n"; sumCSV != wantCSV {
		t.Errorf("sums by tenant and month:\n%s\nwant\n%s", sumCSV, wantCSV)
	}

	// A window: jobs that ended on 2 December only.
	day2 := value[*structs.AccountingReport](t)(e.admin.Accounting(ctx, client.AccountingQuery{Start: t0.Add(16 * time.Hour), End: t0.Add(40 * time.Hour)}))
	if len(day2.Records) != 2 {
		t.Errorf("window of 2 December: %d records, want 2 (j3, j4)", len(day2.Records))
	}
	if code, body := e.do("GET", "/v1/accounting?start=2026-12-02&end=2026-12-01", e.keys["global"], nil); code != http.StatusBadRequest {
		t.Errorf("backwards window: %d %s, want 400", code, body)
	}
	if code, body := e.do("GET", "/v1/accounting?start=2026-12-02T10:00&end=2026-12-03", e.keys["global"], nil); code != http.StatusOK || !bytes.Contains(body, []byte(j3.ID)) {
		t.Errorf("Slurm-style window: %d %s", code, body)
	}

	// Who sees what.
	seen := func(key string, q client.AccountingQuery) []string {
		t.Helper()
		var ids []string
		for _, r := range value[*structs.AccountingReport](t)(e.client(key).Accounting(ctx, q)).Records {
			ids = append(ids, r.JobID)
		}
		return ids
	}
	if diff := cmp.Diff([]string{j1.ID, j2.ID, j4.ID}, seen(e.keys["alice"], client.AccountingQuery{})); diff != "" {
		t.Errorf("alice sees (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{j1.ID, j2.ID, j4.ID}, seen(e.keys["tadmin"], client.AccountingQuery{})); diff != "" {
		t.Errorf("ta's administrator sees (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{j3.ID}, seen(e.keys["bob"], client.AccountingQuery{})); diff != "" {
		t.Errorf("bob sees (-want +got):\n%s", diff)
	}
	for name, q := range map[string]string{"another tenant": "tenant=ta", "another user": "user=alice"} {
		if code, _ := e.do("GET", "/v1/accounting?"+q, e.keys["bob"], nil); code != http.StatusForbidden {
			t.Errorf("bob asking for %s: %d, want 403", name, code)
		}
	}
}

// portalLogin signs username in through the portal's login form and
// returns the session cookie's value and the page's CSRF token.
func (e *opsEnv) portalLogin(username, password string) (session, csrfToken string) {
	e.t.Helper()
	form := url.Values{"username": {username}, "password": {password}, "csrf": {"login-token"}}
	req, _ := http.NewRequest("POST", e.url+"/ui/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "flotilla_login", Value: "login-token"})
	resp, err := noRedirect.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "flotilla_session" && c.Value != "" {
			session = c.Value
		}
	}
	if session == "" {
		e.t.Fatalf("portal login of %s: %s, no session cookie", username, resp.Status)
	}
	req, _ = http.NewRequest("GET", e.url+"/ui/keys", nil)
	req.AddCookie(&http.Cookie{Name: "flotilla_session", Value: session})
	resp, err = noRedirect.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		e.t.Fatalf("no CSRF token on the keys page (%s)", resp.Status)
	}
	return session, string(m[1])
}

// portalPost posts a form through the portal as a session.
func (e *opsEnv) portalPost(path, session, csrfToken string, form url.Values) int {
	e.t.Helper()
	form.Set("csrf", csrfToken)
	req, _ := http.NewRequest("POST", e.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "flotilla_session", Value: session})
	resp, err := noRedirect.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestAuditTrail: a scripted session of administration (tenants, teams,
// users, API keys, machine types, clusters, apps, limits, burst rules),
// job actions (REST, JARVICE and the portal) and portal sign-in and
// sign-out: each appears in the audit trail exactly once, with its
// actor, tenant, object, the caller's address and the outcome (a refused
// call too, with its status). Tenant administrators read their tenant's
// events only; other users are refused; the trail filters by time range,
// actor, object and action; retention purges old events.
func TestAuditTrail(t *testing.T) {
	e := newOpsEnv(t)
	ctx, a := e.ctx(), e.admin
	e.clk.set(t0.Add(time.Hour))
	start := e.clk.Now()
	mustDo := func(method, path, key string, body any, want int) {
		t.Helper()
		var b []byte
		if body != nil {
			b = jsonOf(t, body)
		}
		if code, reply := e.do(method, path, key, b); code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, code, reply, want)
		}
	}
	// Administration, as the system administrator.
	e.must(a.PutTenant(ctx, &structs.Tenant{Name: "tc"}))
	e.must(a.PutTeam(ctx, &structs.Team{Tenant: "tc", Name: "ops"}))
	e.must(a.PutUser(ctx, "carol", &structs.UserSpec{Tenant: "tc", Role: structs.RoleUser, Password: "carol-secret-1"}))
	e.must(a.PutUser(ctx, "dave", &structs.UserSpec{Tenant: "tc", Role: structs.RoleAdmin}))
	e.must(a.PutUser(ctx, "carol", &structs.UserSpec{Tenant: "tc", Role: structs.RoleUser, Password: "carol-secret-1", Teams: []string{"ops"}}))
	carolKey := value[*structs.APIKeyCreated](t)(a.CreateAPIKey(ctx, "carol", "laptop"))
	daveKey := value[*structs.APIKeyCreated](t)(a.CreateAPIKey(ctx, "dave", ""))
	e.must(a.PutCluster(ctx, "west", &structs.ClusterSpec{}))
	e.must(a.PutMachineType(ctx, &structs.MachineType{Name: "m2", Cores: 4, Slots: 4, RAM: 8, ScaleMax: 4, Cluster: "west", Price: 1}))
	e.must(a.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, AppDef: tinyAppDef}))
	e.must(a.PutLimit(ctx, &structs.Limit{Name: "tc-nodes", Scope: structs.ScopeTenant, Tenant: "tc", Kind: structs.LimitMaxNodes, MachineType: "c16", Value: 8}))
	e.must(a.PutBurstRule(ctx, &structs.BurstRule{Name: "c16-to-m2", From: "c16", To: []string{"m2"}, WhenFull: true}))
	e.must(nil, a.DeleteLimit(ctx, "tc-nodes"))

	// Jobs, as carol: REST submit and cancel, JARVICE submit and terminate.
	carol := e.client(carolKey.Key)
	j1 := value[*structs.Job](t)(carol.SubmitJob(ctx, structs.JobSubmitRequest{App: "solver", Command: "run", MachineType: "c16", Nodes: 1}))
	e.must(carol.CancelJob(ctx, j1.ID, ""))
	mustDo("POST", "/jarvice/submit", "", map[string]any{"app": "solver", "user": map[string]string{"username": "carol", "apikey": carolKey.Key},
		"application": map[string]any{"command": "run"}, "machine": map[string]any{"type": "c16", "nodes": 1}}, http.StatusOK)
	jobs := value[*structs.JobList](t)(carol.ListJobs(ctx, client.JobQuery{})).Jobs
	var j2 *structs.Job
	for _, j := range jobs {
		if j.ID != j1.ID {
			j2 = j
		}
	}
	mustDo("GET", "/jarvice/terminate?username=carol&apikey="+carolKey.Key+"&number="+strconv.FormatUint(j2.Number, 10), "", nil, http.StatusOK)
	// A refused call: carol may not create a tenant.
	mustDo("PUT", "/v1/tenants/tx", carolKey.Key, &structs.Tenant{Name: "tx"}, http.StatusForbidden)
	// Reads leave nothing; carol may not read the trail.
	mustDo("GET", "/v1/audit", carolKey.Key, nil, http.StatusForbidden)
	// The portal: sign in, cancel a job from its page, sign out.
	j3 := value[*structs.Job](t)(carol.SubmitJob(ctx, structs.JobSubmitRequest{App: "solver", Command: "run", MachineType: "c16", Nodes: 1}))
	session, csrfToken := e.portalLogin("carol", "carol-secret-1")
	if code := e.portalPost("/ui/jobs/"+j3.ID+"/cancel", session, csrfToken, url.Values{"verb": {"cancel"}}); code/100 != 3 {
		t.Fatalf("portal cancel: %d", code)
	}
	if code := e.portalPost("/ui/logout", session, csrfToken, url.Values{}); code/100 != 3 {
		t.Fatalf("portal logout: %d", code)
	}
	e.must(nil, a.RevokeAPIKey(ctx, "carol", carolKey.ID))

	type ev struct{ Actor, Tenant, Action, Object, Source, Outcome string }
	admin, sys := hubtest.Admin, "system"
	want := map[ev]int{
		{admin, sys, "tenant.create", "tenant/tc", "127.0.0.1", "ok"}:                   1,
		{admin, sys, "team.create", "team/tc/ops", "127.0.0.1", "ok"}:                   1,
		{admin, sys, "user.create", "user/carol", "127.0.0.1", "ok"}:                    1,
		{admin, sys, "user.create", "user/dave", "127.0.0.1", "ok"}:                     1,
		{admin, sys, "user.update", "user/carol", "127.0.0.1", "ok"}:                    1,
		{admin, sys, "apikey.create", "apikey/carol/" + carolKey.ID, "127.0.0.1", "ok"}: 1,
		{admin, sys, "apikey.create", "apikey/dave/" + daveKey.ID, "127.0.0.1", "ok"}:   1,
		{admin, sys, "machinetype.create", "machinetype/m2", "127.0.0.1", "ok"}:         1,
		{admin, sys, "cluster.create", "cluster/west", "127.0.0.1", "ok"}:               1,
		{admin, sys, "app.create", "app/solver", "127.0.0.1", "ok"}:                     1,
		{admin, sys, "limit.create", "limit/tc-nodes", "127.0.0.1", "ok"}:               1,
		{admin, sys, "burstrule.create", "burstrule/c16-to-m2", "127.0.0.1", "ok"}:      1,
		{admin, sys, "limit.delete", "limit/tc-nodes", "127.0.0.1", "ok"}:               1,
		{"carol", "tc", "job.submit", "job/" + j1.ID, "127.0.0.1", "ok"}:                1,
		{"carol", "tc", "job.cancel", "job/" + j1.ID, "127.0.0.1", "ok"}:                1,
		{"carol", "tc", "job.submit", "job/" + j2.ID, "127.0.0.1", "ok"}:                1,
		{"carol", "tc", "job.terminate", "job/" + j2.ID, "127.0.0.1", "ok"}:             1,
		{"carol", "tc", "tenant.update", "tenant/tx", "127.0.0.1", "error"}:             1,
		{"carol", "tc", "job.submit", "job/" + j3.ID, "127.0.0.1", "ok"}:                1,
		{"carol", "tc", "session.login", "session/carol", "127.0.0.1", "ok"}:            1,
		{"carol", "tc", "job.cancel", "job/" + j3.ID, "127.0.0.1", "ok"}:                1,
		{"carol", "tc", "session.logout", "session/carol", "127.0.0.1", "ok"}:           1,
		{admin, sys, "apikey.revoke", "apikey/carol/" + carolKey.ID, "127.0.0.1", "ok"}: 1,
	}
	all := value[[]*structs.AuditEvent](t)(a.Audit(ctx, client.AuditQuery{Since: start}))
	got := map[ev]int{}
	for _, x := range all {
		got[ev{x.Actor, x.Tenant, x.Action, x.ObjectKind + "/" + x.ObjectName, x.Source, x.Outcome}]++
		if x.Outcome == "error" && (x.Status != http.StatusForbidden || x.Detail == "") {
			t.Errorf("refused call's event: status %d, detail %q", x.Status, x.Detail)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit trail (-want +got):\n%s", diff)
	}

	// Filters.
	count := func(key string, q client.AuditQuery) int {
		t.Helper()
		return len(value[[]*structs.AuditEvent](t)(e.client(key).Audit(ctx, q)))
	}
	for name, tc := range map[string]struct {
		q    client.AuditQuery
		want int
	}{
		"by actor":          {client.AuditQuery{Since: start, Actor: "carol"}, 9},
		"by object":         {client.AuditQuery{Object: "job/" + j1.ID}, 2},
		"by object name":    {client.AuditQuery{Object: "carol"}, 4},
		"by kind":           {client.AuditQuery{Since: start, Object: "user/"}, 3},
		"by action prefix":  {client.AuditQuery{Action: "job."}, 6},
		"by action":         {client.AuditQuery{Action: "session.login"}, 1},
		"before the script": {client.AuditQuery{Until: start}, len(value[[]*structs.AuditEvent](t)(a.Audit(ctx, client.AuditQuery{Until: start})))},
		"limit":             {client.AuditQuery{Since: start, Limit: 5}, 5},
	} {
		if n := count(e.keys["global"], tc.q); n != tc.want {
			t.Errorf("%s: %d events, want %d", name, n, tc.want)
		}
	}
	// dave administers tc: carol's events only, and not another tenant's.
	if n := count(daveKey.Key, client.AuditQuery{}); n != 9 {
		t.Errorf("tc's administrator reads %d events, want carol's 9", n)
	}
	if code, _ := e.do("GET", "/v1/audit?tenant=ta", daveKey.Key, nil); code != http.StatusForbidden {
		t.Errorf("tc's administrator reading ta's trail: %d, want 403", code)
	}
	if code, _ := e.do("GET", "/v1/audit?since=yesterday", e.keys["global"], nil); code != http.StatusBadRequest {
		t.Errorf("a bad since: %d, want 400", code)
	}

	// Retention: 90 days on, the leader's purge leaves none of them.
	e.clk.set(start.Add(91 * 24 * time.Hour))
	if n, err := e.c.Hub(0).PurgeAudit(ctx); err != nil || n < len(all) {
		t.Fatalf("audit purge: %d, %v; want at least %d", n, err, len(all))
	}
	if n := count(e.keys["global"], client.AuditQuery{}); n != 0 {
		t.Errorf("%d events left after retention", n)
	}
}
