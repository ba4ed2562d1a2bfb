package portal_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.send(req)
}

// send sends req with the browser's cookies and returns the reply.
func (b *browser) send(req *http.Request) (int, string, http.Header) {
	b.t.Helper()
	res, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(data), res.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfIn(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token in page:\n%s", page)
	}
	return m[1]
}

// login signs in with a local account and returns a page's CSRF token.
func (b *browser) login(user, pass string) string {
	b.t.Helper()
	_, page, _ := b.do("GET", "/ui/login", nil)
	code, body, h := b.do("POST", "/ui/login", url.Values{"csrf": {csrfIn(b.t, page)}, "username": {user}, "password": {pass}})
	if code != http.StatusSeeOther || h.Get("Location") != "/ui/jobs" {
		b.t.Fatalf("login: %d %s %s", code, h.Get("Location"), body)
	}
	code, page, _ = b.do("GET", "/ui/jobs", nil)
	if code != 200 {
		b.t.Fatalf("jobs page: %d", code)
	}
	return csrfIn(b.t, page)
}

// submitRun submits command run of app on one n1 node through the
// portal's form and returns the job page's path.
func (b *browser) submitRun(app, csrf string) string {
	b.t.Helper()
	code, _, h := b.do("POST", "/ui/apps/"+app+"/submit", url.Values{"csrf": {csrf}, "command": {"run"}, "machine_type": {"n1"}, "nodes": {"1"}})
	if code != http.StatusSeeOther {
		b.t.Fatalf("submit from the portal: %d", code)
	}
	return h.Get("Location")
}

// startHubs starts n hub replicas (no catalog sync) and waits for a
// leader; it returns a context bounded to two minutes (canceled when the
// test ends) and an administrator's client.
func startHubs(t *testing.T, n int) (context.Context, *hubtest.Cluster, *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	hubs := hubtest.New(t, n, hubtest.Options{NoSync: true})
	if _, err := hubs.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	adm, err := client.New(hubs.URLs(), hubs.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, hubs, adm
}

// seedCatalog registers the cluster east and, on it, machine type mt
// and app a, as the administrator adm.
func seedCatalog(ctx context.Context, t *testing.T, adm *client.Client, mt structs.MachineType, a structs.App) {
	t.Helper()
	mt.Cluster = "east"
	if _, err := adm.PutCluster(ctx, "east", &structs.ClusterSpec{}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutMachineType(ctx, &mt); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutApp(ctx, &a); err != nil {
		t.Fatal(err)
	}
}

// solverApp is the public app the submit tests run: one command, run.
func solverApp() structs.App {
	return structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "registry/solver:1",
		AppDef: structs.AppDef{Name: "Solver", Commands: map[string]structs.Command{"run": {Path: "/run.sh", Name: "Run"}}}}
}

// pubApp is a public app of one command, run.
func pubApp() structs.App {
	return structs.App{Name: "pub", Visibility: structs.VisibilityPublic,
		AppDef: structs.AppDef{Name: "App", Commands: map[string]structs.Command{"run": {Path: "/run"}}}}
}

// userClient is an API client of user (a new API key of theirs).
func userClient(ctx context.Context, t *testing.T, hubs *hubtest.Cluster, adm *client.Client, user string) *client.Client {
	t.Helper()
	key, err := adm.CreateAPIKey(ctx, user, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(hubs.URLs(), key.Key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// n1 is the machine type of 4 cores the submit tests run on.
var n1 = structs.MachineType{Name: "n1", Cores: 4, Slots: 4, RAM: 16, ScaleMin: 1, ScaleMax: 8}

func seedUser(ctx context.Context, t *testing.T, adm *client.Client, tenant, user string) {
	t.Helper()
	if _, err := adm.PutTenant(ctx, &structs.Tenant{Name: tenant}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutUser(ctx, user, &structs.UserSpec{Tenant: tenant, Role: structs.RoleUser, Password: "pw-" + user + "-secret"}); err != nil {
		t.Fatal(err)
	}
}

// TestLocalSessionLifecycle: a local login gives a session every replica
// accepts; a POST without the CSRF token changes nothing; logout ends the
// session on every replica; pages of another tenant's job are not found.
func TestLocalSessionLifecycle(t *testing.T) {
	ctx, hubs, adm := startHubs(t, 3)
	seedUser(ctx, t, adm, "acme", "ann")
	b := newBrowser(t, hubs.URL(0))
	csrf := b.login("ann", "pw-ann-secret")
	for i := 1; i < 3; i++ {
		other := &browser{t: t, base: hubs.URL(i), hc: b.hc}
		if code, _, _ := other.do("GET", "/ui/jobs", nil); code != 200 {
			t.Errorf("replica %d: jobs page %d with the session", i, code)
		}
	}
	if code, _, _ := b.do("POST", "/ui/logout", url.Values{}); code != http.StatusForbidden {
		t.Errorf("logout without CSRF token: %d, want 403", code)
	}
	if code, _, _ := b.do("GET", "/ui/jobs", nil); code != 200 {
		t.Errorf("session ended by a forged logout: %d", code)
	}
	if code, _, _ := b.do("POST", "/ui/logout", url.Values{"csrf": {csrf}}); code != http.StatusSeeOther {
		t.Errorf("logout: %d", code)
	}
	_ = csrf
}

var keyRE = regexp.MustCompile(`<code id="new-key">(flk_[0-9a-f]+_[0-9a-f]+)</code>`)

// TestAPIKeyPage: a key made on the page is shown once, named; using it
// records its last use (to the hour); revoking it on the page ends it;
// portal sessions never appear as API keys.
func TestAPIKeyPage(t *testing.T) {
	ctx, hubs, adm := startHubs(t, 1)
	seedUser(ctx, t, adm, "acme", "ann")
	b := newBrowser(t, hubs.URL(0))
	csrf := b.login("ann", "pw-ann-secret")
	code, page, _ := b.do("POST", "/ui/keys", url.Values{"csrf": {csrf}, "name": {"laptop"}})
	m := keyRE.FindStringSubmatch(page)
	if code != 200 || m == nil {
		t.Fatalf("create key: %d, no key shown", code)
	}
	keys, err := adm.ListAPIKeys(ctx, "ann")
	if err != nil || len(keys) != 1 || keys[0].Name != "laptop" || !keys[0].LastUsed.IsZero() {
		t.Fatalf("keys after creating one (sessions must not show): %+v %v", keys, err)
	}
	user, err := client.New(hubs.URLs(), m[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := user.WhoAmI(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		keys, err = adm.ListAPIKeys(ctx, "ann")
		if err == nil && len(keys) == 1 && !keys[0].LastUsed.IsZero() {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("last use never recorded: %+v %v", keys, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if _, page, _ = b.do("GET", "/ui/keys", nil); !strings.Contains(page, keys[0].LastUsed.UTC().Format("2006-01-02 15:04:05 UTC")) {
		t.Error("the keys page does not show the last use")
	}
	if code, _, _ := b.do("POST", "/ui/keys/"+keys[0].ID+"/revoke", url.Values{"csrf": {csrf}}); code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", code)
	}
	if _, err := user.WhoAmI(ctx); err == nil {
		t.Error("a revoked key still authenticates")
	}
}

// TestEventStreamEndsOnShutdown: an open live-status stream gets its
// first event at once and does not hold up a graceful shutdown.
func TestEventStreamEndsOnShutdown(t *testing.T) {
	ctx, hubs, adm := startHubs(t, 1)
	seedUser(ctx, t, adm, "acme", "ann")
	b := newBrowser(t, hubs.URL(0))
	b.login("ann", "pw-ann-secret")
	req, _ := http.NewRequestWithContext(ctx, "GET", hubs.URL(0)+"/ui/jobs/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := b.hc.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("event stream: %v %v", res, err)
	}
	defer res.Body.Close()
	buf := make([]byte, 4096)
	n, err := res.Body.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "event: rows\n") {
		t.Fatalf("first event: %q %v", buf[:n], err)
	}
	start := time.Now()
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := hubs.Hub(0).Shutdown(sctx); err != nil {
		t.Errorf("graceful shutdown with an open stream: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v with an open stream", d)
	}
	if _, err := io.ReadAll(res.Body); err != nil {
		t.Logf("stream ended: %v", err)
	}
}
