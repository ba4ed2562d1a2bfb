// Package portal drives the web portal in headless Chromium (chromedp)
// as users meet it: hub replicas serving /ui/, a real Dex OIDC provider
// run as its own process, and — where jobs must run — real control planes
// with an agent each.
package portal

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/portal"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/proc"
)

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// site is hub replicas serving the portal, Dex in front of them for
// single sign-on, and optionally clusters with agents.
type site struct {
	t      *testing.T
	hubs   *hubtest.Cluster
	admin  *client.Client
	dex    *proc.Process
	envs   map[string]*k8senv.Env
	stopAg []context.CancelFunc
	wg     sync.WaitGroup
}

// The SSO user Dex knows, and the claim rule that maps them to tenant
// "physics".
const (
	ssoEmail    = "sci@physics.example"
	ssoPassword = "dex-password-1"
	// strangerEmail is a Dex user no claim rule admits (same password).
	strangerEmail = "eve@other.example"
)

// startSite starts n replicas with the portal's OIDC pointed at a Dex
// process (started after them, once their callback URLs are known).
func startSite(t *testing.T, n int, withDex bool) *site {
	t.Helper()
	s := &site{t: t, envs: map[string]*k8senv.Env{}}
	var issuer string
	if withDex {
		ports, err := proc.FreePorts(1)
		if err != nil {
			t.Fatal(err)
		}
		issuer = fmt.Sprintf("http://127.0.0.1:%d/dex", ports[0])
	}
	s.hubs = hubtest.New(t, n, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) {
		cfg.Dispatch = &hub.DispatchOptions{Interval: 250 * time.Millisecond, AcceptTimeout: time.Minute}
		if withDex {
			cfg.Portal.OIDC = &portal.OIDCConfig{Issuer: issuer, ClientID: "flotilla", ClientSecret: "portal-test-secret",
				RedirectURL: cfg.Raft.APIAddress + "/ui/oidc/callback", DisplayName: "Dex",
				Rules: []portal.ClaimRule{{Name: "physicists", Email: "*@physics.example", Tenant: "physics", Role: structs.RoleUser}}}
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := s.hubs.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.admin, err = client.New(s.hubs.URLs(), s.hubs.AdminKey); err != nil {
		t.Fatal(err)
	}
	if withDex {
		s.startDex(issuer)
	}
	t.Cleanup(s.stopAgents)
	return s
}

// startDex runs Dex with an in-memory store, one static user and the
// portal as its client (every replica's callback registered).
func (s *site) startDex(issuer string) {
	t := s.t
	bin, err := proc.FindBin("dex")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(ssoPassword), bcrypt.DefaultCost) // Dex refuses cost < 10
	if err != nil {
		t.Fatal(err)
	}
	var redirects []string
	for _, u := range s.hubs.URLs() {
		redirects = append(redirects, fmt.Sprintf("    - %q", u+"/ui/oidc/callback"))
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(issuer, "http://"), "/dex")
	cfg := fmt.Sprintf(`issuer: %s
storage:
  type: memory
web:
  http: %s
oauth2:
  skipApprovalScreen: true
enablePasswordDB: true
staticPasswords:
- email: %q
  hash: %q
  username: sci
  userID: "0815-sci"
- email: %q
  hash: %q
  username: eve
  userID: "0816-eve"
staticClients:
- id: flotilla
  name: Flotilla
  secret: portal-test-secret
  redirectURIs:
%s
`, issuer, addr, ssoEmail, string(hash), strangerEmail, string(hash), strings.Join(redirects, "\n"))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dex.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.dex, err = proc.Start(dir, "dex", bin, []string{"serve", "dex.yaml"}, proc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dex log:\n%s", s.dex.Tail(40))
		}
		s.dex.Kill()
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waitHTTP(ctx, t, issuer+"/.well-known/openid-configuration")
}

// addClusters starts a control plane and an agent per cluster.
func (s *site) addClusters(ctx context.Context, clusters map[string][]k8senv.NodeSpec) {
	t := s.t
	var opts []k8senv.Options
	for name := range clusters {
		opts = append(opts, k8senv.Options{Name: name, NoControllerManager: true})
	}
	var wg sync.WaitGroup
	for _, env := range k8senv.StartAll(t, opts...) {
		s.envs[env.Name] = env
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := env.AddNodes(ctx, clusters[env.Name]...); err != nil {
				t.Errorf("%s: %v", env.Name, err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for name := range clusters {
		if _, err := s.admin.PutCluster(ctx, name, &structs.ClusterSpec{}); err != nil {
			t.Fatal(err)
		}
		tok, err := s.admin.CreateBootstrapToken(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		a, err := agent.New(agent.Config{Cluster: name, HubURLs: s.hubs.URLs(), BootstrapToken: tok.Key, Kube: s.envs[name].Config,
			NamespacePrefix: "flotilla", Image: "solver:1", Heartbeat: 300 * time.Millisecond, Log: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		actx, cancel := context.WithCancel(context.Background())
		s.stopAg = append(s.stopAg, cancel)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := a.Run(actx); err != nil && actx.Err() == nil {
				t.Errorf("agent %s: %v", name, err)
			}
		}()
	}
}

func (s *site) stopAgents() {
	for _, c := range s.stopAg {
		c()
	}
	s.wg.Wait()
}

// must fails the test on err.
func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// seedTenant makes a tenant and a local user in it with a password.
func (s *site) seedUser(ctx context.Context, tenant, user string, role structs.Role) string {
	s.t.Helper()
	if _, err := s.admin.PutTenant(ctx, &structs.Tenant{Name: tenant}); err != nil {
		s.t.Fatal(err)
	}
	pw := "pw-" + user + "-portal"
	if _, err := s.admin.PutUser(ctx, user, &structs.UserSpec{Tenant: tenant, Role: role, Password: pw}); err != nil {
		s.t.Fatal(err)
	}
	return pw
}

// chromiumPath finds Debian's chromium (installed by .ci/run).
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not installed (apt-get install chromium; .ci/run does)")
	return ""
}

// newBrowser starts a headless Chromium with its own profile; every
// browser is a separate user (separate cookies).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancelC()
		cancelA()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancelC()
		cancelA()
	})
	return ctx
}

// run runs chromedp actions with a deadline, failing the test with what
// was being done.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s: %v (at %s)", what, err, loc)
	}
}

// value runs one chromedp action that returns a value.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s: %v (at %s)", what, err, loc)
	}
	return v
}

// shot saves a full-page screenshot as a test artifact.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf := value(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	p := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// text reads the text of the first element matching sel.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(value(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// waitText waits until the text of sel satisfies cond.
func waitText(t *testing.T, ctx context.Context, sel, what string, d time.Duration, cond func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		last = strings.TrimSpace(s)
		if err == nil && cond(last) {
			return last
		}
		time.Sleep(100 * time.Millisecond) // polling the page, not waiting for an effect
	}
	t.Fatalf("%s: %s never satisfied the condition; last %q", what, sel, last)
	return ""
}

// loginDex signs in through Dex as email and waits for page sel.
func loginDex(t *testing.T, ctx context.Context, base, email, sel string) {
	t.Helper()
	run(t, ctx, "sign in with Dex as "+email, chromedp.Navigate(base+"/ui/login"), chromedp.WaitVisible(chromedp.CSS("#sso")),
		clickAway("#sso"), fillLoaded("#login", email), fillLoaded("#password", ssoPassword),
		clickAway("#submit-login"), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// fillLoaded sets the value of the form field sel once a fully loaded
// page has it: the page a clickAway went to. It addresses the field in the
// page's script, never by a DOM node id: a page still loading when
// chromedp found the field replaces its document (and node ids) when it
// completes, and chromedp.SendKeys then failed with "Could not find node
// with given id" (seen on Dex's login page under load). Evaluation errors
// while the browser moves between pages mean "not yet".
func fillLoaded(sel, val string) chromedp.Action[chromedp.Void] {
	js := fmt.Sprintf(`(() => {
		if (document.readyState !== "complete") return false;
		const e = document.querySelector(%q);
		if (!e) return false;
		e.value = %q;
		return true;
	})()`, sel, val)
	set := chromedp.Evaluate[bool](js)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if ok, err := set(ctx, t); err == nil && ok {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("field %s of a loaded page: %w", sel, ctx.Err())
			case <-tick.C:
			}
		}
	}
}

// clickAway clicks the element sel whose click leaves the page (a link or a
// form submit to another origin's page). It clicks in the page's script:
// chromedp.Click's mouse events would refer to the element after the
// click, and fail ("Could not find node with given id") when the browser
// has already moved on to the next page.
func clickAway(sel string) chromedp.Action[chromedp.Void] {
	click := chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%q).click(), true)`, sel))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := click(ctx, t)
		return chromedp.Void{}, err
	}
}

// loginLocal signs in through the portal's local-account form.
func loginLocal(t *testing.T, ctx context.Context, base, user, pw string) {
	t.Helper()
	run(t, ctx, "local login as "+user,
		chromedp.Navigate(base+"/ui/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#jobs-table")))
}

func waitHTTP(ctx context.Context, t *testing.T, url string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if res, err := c.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never answered", url)
		case <-tick.C:
		}
	}
}

func chromedpClick(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(sel))
}
func chromedpWait(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}
