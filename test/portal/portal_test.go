package portal

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// cfdApp is an app whose command has a parameter of each kind the form
// generates.
func cfdApp(name string) *structs.App {
	raw := func(s string) []byte { return []byte(s) }
	return &structs.App{Name: name, Visibility: structs.VisibilityTenant, Image: "solver:1", AppDef: structs.AppDef{
		Name: "CFD " + name, Description: "Incompressible flow solver", Classifications: []string{"Simulation"},
		Machines: []string{"cpu-*"},
		Commands: map[string]structs.Command{"run": {Path: "/opt/cfd/run.sh", Name: "Run", Description: "Solve a case",
			ParameterOrder: []string{"case", "iterations", "scheme", "verbose", "mode"},
			Parameters: map[string]structs.Parameter{
				"case":       {Name: "Case name", Type: structs.ParamString, Required: true},
				"iterations": {Name: "Iterations", Type: structs.ParamInt, Min: 1, Max: 1000, Value: raw("100"), Required: true},
				"scheme":     {Name: "Scheme", Type: structs.ParamSelection, Values: []string{"upwind", "central"}, Required: true},
				"verbose":    {Name: "Verbose output", Type: structs.ParamBool, Value: raw("false")},
				"mode":       {Name: "Mode", Type: structs.ParamConst, Value: raw(`"batch"`)},
			}}}}}
}

// seedCatalog makes machine types cpu-east (pinned to east) and cpu-west
// and a tenant app.
func (s *site) seedCatalog(ctx context.Context, tenant, app string) {
	s.t.Helper()
	for _, c := range []string{"east", "west"} {
		if _, err := s.admin.GetCluster(ctx, c); err == nil {
			continue // registered with its agent already
		}
		if _, err := s.admin.PutCluster(ctx, c, &structs.ClusterSpec{}); err != nil {
			s.t.Fatal(err)
		}
	}
	for _, mt := range []*structs.MachineType{
		{Name: "cpu-east", Description: "16 cores in east", Cores: 16, Slots: 16, RAM: 32, Cluster: "east", ScaleMin: 1, ScaleMax: 4, Price: 1.5},
		{Name: "cpu-west", Description: "16 cores in west", Cores: 16, Slots: 16, RAM: 32, Cluster: "west", ScaleMin: 1, ScaleMax: 4, Price: 1.2},
	} {
		if _, err := s.admin.PutMachineType(ctx, mt); err != nil {
			s.t.Fatal(err)
		}
	}
	a := cfdApp(app)
	a.Tenant = tenant
	if _, err := s.admin.PutApp(ctx, a); err != nil {
		s.t.Fatal(err)
	}
}

// finishHead makes the head pod of job number n exit 0 (the simulated
// solver finishes).
func (s *site) finishHead(ctx context.Context, cluster string, n uint64) {
	t := s.t
	cs, err := kubernetes.NewForConfig(s.envs[cluster].Config)
	if err != nil {
		t.Fatal(err)
	}
	sel := fmt.Sprintf("%s=%d,%s=0", podgroup.LabelJob, n, podgroup.LabelRank)
	for {
		pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err == nil && len(pods.Items) == 1 {
			p := pods.Items[0]
			patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"0s"}}}`, k8senv.AnnotationSucceedAfter)
			if _, err := cs.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err == nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("head pod of job %d not found in %s", n, cluster)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestPortalEndToEnd: a scientist logs in through Dex, opens the catalog,
// fills the form generated from the AppDef (an out-of-range INT first:
// the field's message, nothing submitted), submits, and watches the job
// page go to RUNNING and COMPLETED without reloading, with the cluster
// and the reason; an administrator then enables a burst rule in the
// portal and the next job bursts with that rule named on its page.
func TestPortalEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	s := startSite(t, 1, true)
	if _, err := s.admin.PutTenant(ctx, &structs.Tenant{Name: "physics"}); err != nil {
		t.Fatal(err)
	}
	s.seedCatalog(ctx, "physics", "cfd")
	if _, err := s.admin.PutBurstRule(ctx, &structs.BurstRule{Name: "east-to-west", From: "cpu-east", To: []string{"cpu-west"},
		After: structs.Duration(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	rootPW := s.seedUser(ctx, "system", "root", structs.RoleAdmin)
	base := s.hubs.URL(0)

	// Log in through Dex.
	b := newBrowser(t)
	run(t, b, "open the portal", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#sso")))
	shot(t, b, "01-login")
	run(t, b, "sign in with Dex", chromedp.Click(chromedp.CSS("#sso")), chromedp.WaitVisible(chromedp.CSS("#login")))
	shot(t, b, "02-dex")
	run(t, b, "dex credentials",
		chromedp.SendKeys(chromedp.CSS("#login"), ssoEmail), chromedp.SendKeys(chromedp.CSS("#password"), ssoPassword),
		chromedp.Click(chromedp.CSS("#submit-login")), chromedp.WaitVisible(chromedp.CSS("#jobs-table")))
	if who := text(t, b, ".who span"); !strings.Contains(who, ssoEmail) || !strings.Contains(who, "physics") {
		t.Fatalf("logged in as %q, want %s of physics", who, ssoEmail)
	}
	shot(t, b, "03-jobs-empty")

	// Catalog → app → generated form.
	run(t, b, "catalog", chromedp.Navigate(base+"/ui/catalog"), chromedp.WaitVisible(chromedp.CSS("#app-cfd")))
	shot(t, b, "04-catalog")
	run(t, b, "app page", chromedp.Click(chromedp.CSS("#app-cfd")), chromedp.WaitVisible(chromedp.CSS("#run-run")))
	shot(t, b, "05-app")
	run(t, b, "submit form", chromedp.Click(chromedp.CSS("#run-run")), chromedp.WaitVisible(chromedp.CSS("#submit-form")))
	run(t, b, "fill the form with an out-of-range INT",
		chromedp.SendKeys(chromedp.CSS("#p-case"), "cavity"),
		chromedp.SetValue(chromedp.CSS("#p-iterations"), ""),
		chromedp.SendKeys(chromedp.CSS("#p-iterations"), "5000"),
		chromedp.SetValue(chromedp.CSS("#p-scheme"), "central"),
		chromedp.Focus(chromedp.CSS("#p-verbose")), chromedp.KeyEvent(" "),
		chromedp.Click(chromedp.CSS("#submit-job")))
	msg := waitText(t, b, "#e-iterations", "the INT's message", 10*time.Second, func(s string) bool { return s != "" })
	if !strings.Contains(msg, "between 1 and 1000") {
		t.Errorf("message next to Iterations: %q", msg)
	}
	if loc := value(t, b, "location", chromedp.Location()); !strings.Contains(loc, "/submit") {
		t.Fatalf("the form left the page with an invalid field: %s", loc)
	}
	shot(t, b, "06-form-invalid")
	run(t, b, "fix the INT and preview", chromedp.SetValue(chromedp.CSS("#p-iterations"), ""),
		chromedp.SendKeys(chromedp.CSS("#p-iterations"), "200"), chromedp.Click(chromedp.CSS("#preview-button")))
	preview := text(t, b, "#preview")
	for _, want := range []string{`"iterations": "200"`, `"scheme": "central"`, `"verbose": "true"`, `"mode": "batch"`, `"machine_type": "cpu-east"`} {
		if !strings.Contains(preview, want) {
			t.Errorf("preview lacks %s:\n%s", want, preview)
		}
	}
	shot(t, b, "07-form-preview")
	run(t, b, "submit", chromedp.Click(chromedp.CSS("#submit-job")), chromedp.WaitVisible(chromedp.CSS("#job-status")))
	// Mark the page: a reload would lose the mark.
	value(t, b, "mark the page", chromedp.Evaluate[bool](`window.__flotillaMark = true`))
	// No cluster has an agent yet: the job waits, and the page says why.
	first := waitText(t, b, "#job-state", "QUEUED", 30*time.Second, func(s string) bool { return strings.Contains(s, "QUEUED") })
	if why := text(t, b, "#job-reason"); !strings.HasPrefix(why, "waiting: ") || len(why) < len("waiting: x") {
		t.Errorf("a queued job's reason: %q", why)
	}
	shot(t, b, "08-job-queued")
	seen := []string{first}
	s.addClusters(ctx, map[string][]k8senv.NodeSpec{
		"east": {{Name: "east-0", CPU: "16", Memory: "64Gi"}},
		"west": {{Name: "west-0", CPU: "16", Memory: "64Gi"}, {Name: "west-1", CPU: "16", Memory: "64Gi"}}})
	waitText(t, b, "#job-state", "RUNNING", 2*time.Minute, func(s string) bool {
		if s != seen[len(seen)-1] {
			seen = append(seen, s)
		}
		return strings.Contains(s, "RUNNING")
	})
	shot(t, b, "09-job-running")
	if c := text(t, b, "#job-cluster"); c != "east" {
		t.Errorf("cluster %q, want east", c)
	}
	if why := text(t, b, "#job-reason"); !strings.Contains(why, "pinned") {
		t.Errorf("reason %q, want the pinned cluster", why)
	}
	jobs, err := s.admin.ListJobs(ctx, client.JobQuery{})
	if err != nil || len(jobs.Jobs) != 1 {
		t.Fatalf("jobs: %v %v", jobs, err)
	}
	j := jobs.Jobs[0]
	if j.Parameters["iterations"] != "200" || j.Owner != ssoEmail || j.Tenant != "physics" {
		t.Errorf("stored job %+v", j)
	}
	s.finishHead(ctx, "east", j.Number)
	waitText(t, b, "#job-state", "COMPLETED", 2*time.Minute, func(s string) bool {
		if s != seen[len(seen)-1] {
			seen = append(seen, s)
		}
		return strings.Contains(s, "COMPLETED")
	})
	if !value(t, b, "the mark", chromedp.Evaluate[bool](`window.__flotillaMark === true`)) {
		t.Error("the job page reloaded")
	}
	t.Logf("states seen on the page: %v", seen)
	if !strings.Contains(strings.Join(seen, " "), "RUNNING") {
		t.Errorf("states seen %v: no RUNNING", seen)
	}
	if tl := text(t, b, "#job-timeline"); !strings.Contains(tl, "Submitted") || !strings.Contains(tl, "Started") || !strings.Contains(tl, "Ended: COMPLETED") {
		t.Errorf("timeline %q", tl)
	}
	shot(t, b, "10-job-completed")

	// Another job fills east (its one node).
	run(t, b, "blocker job", chromedp.Navigate(base+"/ui/apps/cfd/submit?command=run"), chromedp.WaitVisible(chromedp.CSS("#p-case")),
		chromedp.SendKeys(chromedp.CSS("#p-case"), "long-run"), chromedp.Click(chromedp.CSS("#submit-job")),
		chromedp.WaitVisible(chromedp.CSS("#job-status")))
	waitText(t, b, "#job-state", "blocker RUNNING", 2*time.Minute, func(s string) bool { return strings.Contains(s, "RUNNING") })

	// An administrator enables the burst rule in the portal: a dry run
	// first, then save.
	adm := newBrowser(t)
	loginLocal(t, adm, base, "root", rootPW)
	run(t, adm, "burst rule editor", chromedp.Navigate(base+"/ui/admin/burstrules?edit=east-to-west"),
		chromedp.WaitVisible(chromedp.CSS("#br-after")))
	shot(t, adm, "11-burst-editor")
	clearAfter := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(document.getElementById("br-after").value = "") === ""`)(ctx, tg)
		return err
	})
	run(t, adm, "edit the rule: at once", clearAfter,
		chromedp.Click(chromedp.CSS("#dry-run")), chromedp.WaitVisible(chromedp.CSS("#dry-result")))
	if dr := text(t, adm, "#dry-result"); !strings.Contains(dr, "east-to-west") {
		t.Errorf("dry run with the edited rule: %q", dr)
	}
	shot(t, adm, "12-burst-dryrun")
	run(t, adm, "save", clearAfter, chromedp.Click(chromedp.CSS("#save-rule")))
	// The click only starts the form's POST: the dry run's page still shows
	// #burst-form until the browser has followed the save's redirect, so
	// wait for the hub to hold the saved rule, not for the page.
	for deadline := time.Now().Add(30 * time.Second); ; {
		r, err := s.admin.GetBurstRule(ctx, "east-to-west")
		if err == nil && r.After == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rule 30 s after saving: %+v %v", r, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("rule after saving: %+v %v (%v)", r, err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	run(t, adm, "saved page", chromedp.WaitVisible(chromedp.CSS("#burst-form")))

	// The next job bursts, and its page names the rule.
	run(t, b, "second job", chromedp.Navigate(base+"/ui/apps/cfd/submit?command=run"), chromedp.WaitVisible(chromedp.CSS("#p-case")),
		chromedp.SendKeys(chromedp.CSS("#p-case"), "second"), chromedp.Click(chromedp.CSS("#submit-job")),
		chromedp.WaitVisible(chromedp.CSS("#job-status")))
	waitText(t, b, "#job-reason", "burst reason", 2*time.Minute, func(s string) bool { return strings.Contains(s, "burst rule east-to-west") })
	if c := waitText(t, b, "#job-cluster", "burst cluster", 10*time.Second, func(s string) bool { return s != "" }); c != "west" {
		t.Errorf("burst job on %q, want west", c)
	}
	shot(t, b, "13-job-burst")
}

// TestPortalSessions: a forged cross-site POST without the CSRF token is
// refused and changes nothing; the session is accepted by every replica
// and survives a leader change; after logout the old cookie is refused on
// every replica.
func TestPortalSessions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := startSite(t, 3, false)
	pw := s.seedUser(ctx, "acme", "ann", structs.RoleUser)
	b := newBrowser(t)
	loginLocal(t, b, s.hubs.URL(0), "ann", pw)

	cookies, err := chromedp.Call(b, network.GetCookies, network.GetCookiesParams{URLs: []string{s.hubs.URL(0) + "/ui/"}})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == "flotilla_session" {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteLax {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax", session)
	}
	raw := &httpSession{t: t, cookie: session.Value}

	// Every replica accepts the session.
	for i := range 3 {
		if code := raw.get(s.hubs.URL(i) + "/ui/jobs"); code != 200 {
			t.Errorf("replica %d: jobs page %d with the session", i, code)
		}
	}

	// A page of another origin posts to the portal without the token.
	evil := forgery(t, s.hubs.URL(1)+"/ui/keys", map[string]string{"name": "stolen"})
	run(t, b, "forged cross-site POST", chromedp.Navigate(evil), chromedp.WaitVisible(chromedp.CSS("body")))
	waitText(t, b, "body", "the refusal", 15*time.Second, func(s string) bool { return strings.Contains(s, "Forbidden") && strings.Contains(s, "refused") })
	shot(t, b, "01-forged-post-refused")
	if code := raw.post(s.hubs.URL(2)+"/ui/keys", "name=stolen2"); code != 403 {
		t.Errorf("POST without CSRF token: %d, want 403", code)
	}
	keys, err := s.admin.ListAPIKeys(ctx, "ann")
	if err != nil || len(keys) != 0 {
		t.Errorf("keys after forged POSTs: %v %v (want none)", keys, err)
	}

	// The session survives a leader change.
	leader, err := s.hubs.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.hubs.Kill(leader)
	if _, err := s.hubs.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	live := s.hubs.Live()
	for _, i := range live {
		if code := raw.get(s.hubs.URL(i) + "/ui/jobs"); code != 200 {
			t.Errorf("after the leader change, replica %d: jobs page %d", i, code)
		}
	}

	// Logout on one live replica ends the session on every replica (the
	// browser's cookie is the same for every port of the host).
	run(t, b, "logout", chromedp.Navigate(s.hubs.URL(live[0])+"/ui/jobs"), chromedp.WaitVisible(chromedp.CSS("#logout")),
		chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-submit")))
	shot(t, b, "02-logged-out")
	start := time.Now()
	for _, i := range live {
		raw.waitCode(s.hubs.URL(i)+"/ui/jobs", 303, 5*time.Second)
	}
	t.Logf("old cookie refused on every live replica %v after logout returned", time.Since(start).Round(time.Millisecond))
}

// TestPortalTenantWalls: a user of tenant B never sees tenant A's jobs,
// apps or users, through pages or direct URLs — objects of another
// tenant are not found (404), exactly like objects that do not exist.
func TestPortalTenantWalls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startSite(t, 1, false)
	base := s.hubs.URL(0)
	alicePW := s.seedUser(ctx, "tenant-a", "alice", structs.RoleUser)
	bobPW := s.seedUser(ctx, "tenant-b", "bob", structs.RoleUser)
	bossPW := s.seedUser(ctx, "tenant-b", "bboss", structs.RoleAdmin)
	s.seedCatalog(ctx, "tenant-a", "cfd-a")
	if _, err := s.admin.PutApp(ctx, func() *structs.App { a := cfdApp("cfd-b"); a.Tenant = "tenant-b"; return a }()); err != nil {
		t.Fatal(err)
	}
	// Alice submits in the portal.
	a := newBrowser(t)
	loginLocal(t, a, base, "alice", alicePW)
	run(t, a, "alice submits", chromedp.Navigate(base+"/ui/apps/cfd-a/submit"), chromedp.WaitVisible(chromedp.CSS("#p-case")),
		chromedp.SendKeys(chromedp.CSS("#p-case"), "secret-case-a"), chromedp.Click(chromedp.CSS("#submit-job")),
		chromedp.WaitVisible(chromedp.CSS("#job-status")))
	loc := value(t, a, "alice's job URL", chromedp.Location())
	jobPath := loc[strings.Index(loc, "/ui/jobs/"):]
	jobID := strings.TrimPrefix(jobPath, "/ui/jobs/")
	run(t, a, "alice's jobs", chromedp.Navigate(base+"/ui/jobs"), chromedp.WaitVisible(chromedp.CSS("#job-"+jobID)))

	for _, who := range []struct{ user, pw string }{{"bob", bobPW}, {"bboss", bossPW}} {
		b := newBrowser(t)
		loginLocal(t, b, base, who.user, who.pw)
		page := func(path string) string {
			run(t, b, who.user+" opens "+path, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("main")))
			return value(t, b, "page html", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		}
		for _, p := range []string{"/ui/jobs", "/ui/catalog", "/ui/admin/tenancy", "/ui/admin/limits", "/ui/keys"} {
			html := page(p)
			for _, leak := range []string{jobID, "cfd-a", "CFD cfd-a", "alice", "tenant-a", "secret-case-a"} {
				if strings.Contains(html, leak) {
					t.Errorf("%s sees %q on %s", who.user, leak, p)
				}
			}
		}
		if !strings.Contains(page("/ui/catalog"), "cfd-b") {
			t.Errorf("%s does not see their own tenant's app", who.user)
		}
		shot(t, b, "catalog-"+who.user)
		cookies, err := chromedp.Call(b, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/ui/"}})
		if err != nil {
			t.Fatal(err)
		}
		raw := &httpSession{t: t}
		for _, c := range cookies.Cookies {
			if c.Name == "flotilla_session" {
				raw.cookie = c.Value
			}
		}
		for _, p := range []string{jobPath, jobPath + "/status", jobPath + "/events", "/ui/apps/cfd-a", "/ui/apps/cfd-a/submit?command=run",
			"/ui/jobs/j-doesnotexist", "/ui/apps/no-such-app"} {
			if code := raw.get(base + p); code != 404 {
				t.Errorf("%s GET %s: %d, want 404", who.user, p, code)
			}
		}
		html := page(jobPath)
		if strings.Contains(html, "secret-case-a") || !strings.Contains(html, "Not Found") {
			t.Errorf("%s opening alice's job page: not a plain not-found page", who.user)
		}
		shot(t, b, "foreign-job-"+who.user)
		// A valid token of B's session does not reach A's job either.
		csrf := value(t, b, "csrf", chromedp.Evaluate[string](`document.querySelector('meta[name=csrf]').content`))
		if code := raw.post(base+jobPath+"/cancel", "csrf="+csrf); code != 404 {
			t.Errorf("%s cancels alice's job: %d, want 404", who.user, code)
		}
	}
	j, err := s.admin.GetJob(ctx, jobID, true)
	if err != nil || j.State.IsTerminal() {
		t.Errorf("alice's job after tenant B's attempts: %+v %v", j, err)
	}
}
