package agent_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/proc"
)

// TestInteractiveRequiresToken runs interactive jobs of two tenants through
// the agent on a real control plane, then runs the token guard the agent
// deployed in front of acme's job — the shipped flotilla-init binary, with
// the command line of the guard container in the head pod the agent made —
// in front of a stand-in app. Without a token: 401; a wrong token: 403;
// the other tenant's job token: 403; the job's token in the URL: a
// redirect that sets an HttpOnly cookie and drops the token from the
// address, after which the app answers. The app never sees the token.
func TestInteractiveRequiresToken(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	bin, err := proc.FindBin("flotilla-init")
	if err != nil {
		t.Fatal(err)
	}
	ports, err := proc.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	appPort, guardPort := ports[0], ports[1]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startRuntimeCluster(t, ctx, 2, func(cfg *agent.ClusterConfig) { cfg.Runtime.GuardPort = int32(guardPort) })
	c.run(t, ctx)

	interactive := func(number uint64, tenant string) runtime.Input {
		js := rtJob(number, 1)
		js.Job.Tenant = tenant
		js.Command = structs.Command{Path: "/usr/bin/jupyter-lab", Interactive: true, Ports: []string{strconv.Itoa(appPort) + "/tcp"}}
		return js
	}
	acme, globex := interactive(6, "acme"), interactive(9, "globex")
	c.ag.Jobs.AddInput(acme)
	c.ag.Jobs.AddInput(globex)
	waitFor(t, time.Minute, "both interactive jobs running", func() (bool, string) {
		st := c.ag.Jobs.States()
		return st[6] == structs.JobRunning && st[9] == structs.JobRunning, fmt.Sprint(st[6], st[9])
	})
	core := c.env.Client.CoreV1()
	acmeNS, globexNS := podgroup.TenantNamespace(rtPrefix, "acme"), podgroup.TenantNamespace(rtPrefix, "globex")
	secret := func(ns, name string) *corev1.Secret {
		s, err := core.Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	token := string(secret(acmeNS, "j6").Data[runtime.TokenKey])
	otherToken := string(secret(globexNS, "j9").Data[runtime.TokenKey])
	jobURL := string(secret(acmeNS, "j6").Data[runtime.URLKey])
	if token == "" || otherToken == "" || token == otherToken {
		t.Fatalf("tokens %q and %q", token, otherToken)
	}
	if !strings.Contains(jobURL, initproc.GuardQuery+"="+token) {
		t.Errorf("job URL %q does not carry the token for the guard", jobURL)
	}

	// The Ingress leads to the web Service, which leads to the guard.
	web, err := core.Services(acmeNS).Get(ctx, runtime.WebServiceName(6), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(web.Spec.Ports) != 1 || web.Spec.Ports[0].TargetPort.IntValue() != guardPort {
		t.Errorf("web service ports %+v; want only the guard's port %d", web.Spec.Ports, guardPort)
	}
	head, err := core.Pods(acmeNS).Get(ctx, podgroup.PodName(6, 0), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var guard *corev1.Container
	for i := range head.Spec.InitContainers {
		if head.Spec.InitContainers[i].Name == "flotilla-guard" {
			guard = &head.Spec.InitContainers[i]
		}
	}
	if guard == nil || guard.RestartPolicy == nil || *guard.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Fatalf("head pod has no guard sidecar: %+v", head.Spec.InitContainers)
	}

	// The files the kubelet would mount, from the job's Secret.
	root := t.TempDir()
	args := append([]string(nil), guard.Command[1:]...)
	for i, a := range args {
		args[i] = strings.Replace(a, "/var/run/flotilla-guard", root, 1)
	}
	for _, m := range guard.VolumeMounts {
		dir := strings.Replace(m.MountPath, "/var/run/flotilla-guard", root, 1)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(strings.Replace(runtime.GuardTokenDir, "/var/run/flotilla-guard", root, 1), runtime.TokenKey), []byte(token), 0o440); err != nil {
		t.Fatal(err)
	}

	// The stand-in app, on the port the job's command names.
	var mu sync.Mutex
	var leaked []string
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(appPort))
	if err != nil {
		t.Fatal(err)
	}
	app := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if strings.Contains(r.Header.Get("Cookie")+r.Header.Get("Authorization")+r.URL.RawQuery, token) {
			leaked = append(leaked, r.URL.String())
		}
		mu.Unlock()
		io.WriteString(w, "jupyter says hi")
	})}
	go app.Serve(ln)
	defer app.Close()

	p, err := proc.Start(root, "guard", bin, args, proc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(5 * time.Second)
	base := "http://127.0.0.1:" + strconv.Itoa(guardPort)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, cookie, bearer string) (*http.Response, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		req.Host = "j6.jobs.test"
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: initproc.GuardCookie, Value: cookie})
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			return nil, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	waitFor(t, 30*time.Second, "the guard to serve", func() (bool, string) {
		resp, body := get("/", "", "")
		if p.Exited() {
			t.Fatalf("guard exited: %s", p.Tail(20))
		}
		return resp != nil, body
	})

	if resp, body := get("/lab", "", ""); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "jupyter") {
		t.Errorf("no token: %d %q, want 401", resp.StatusCode, body)
	}
	if resp, body := get("/lab", strings.Repeat("0", 64), ""); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "jupyter") {
		t.Errorf("wrong token: %d %q, want 403", resp.StatusCode, body)
	}
	if resp, body := get("/lab", otherToken, ""); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "jupyter") {
		t.Errorf("another tenant's job token: %d %q, want 403", resp.StatusCode, body)
	}
	if resp, body := get("/lab?"+initproc.GuardQuery+"="+otherToken, "", ""); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) > 0 {
		t.Errorf("another tenant's job token in the URL: %d %q, cookies %v; want 403 and no cookie", resp.StatusCode, body, resp.Cookies())
	}
	// First visit: the URL's token becomes a cookie and leaves the address.
	resp, _ := get("/lab?x=1&"+initproc.GuardQuery+"="+token, "", "")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/lab?x=1" {
		t.Fatalf("first visit: %d to %q; want 302 to /lab?x=1", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == initproc.GuardCookie {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.Value != token {
		t.Fatalf("first visit set cookie %+v; want an HttpOnly %s holding the token", cookie, initproc.GuardCookie)
	}
	if resp, body := get("/lab?x=1", cookie.Value, ""); resp.StatusCode != http.StatusOK || body != "jupyter says hi" {
		t.Errorf("with the cookie: %d %q", resp.StatusCode, body)
	}
	if resp, body := get("/api", "", token); resp.StatusCode != http.StatusOK || body != "jupyter says hi" {
		t.Errorf("with the bearer token: %d %q", resp.StatusCode, body)
	}
	mu.Lock()
	if len(leaked) > 0 {
		t.Errorf("the app saw the token on %v", leaked)
	}
	mu.Unlock()
}
