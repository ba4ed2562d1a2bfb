package authhook

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
)

const (
	ns    = "hpc"
	token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func jobSecret(number string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "j" + number, Namespace: ns,
			Labels: map[string]string{podgroup.LabelManaged: "true", podgroup.LabelJob: number}},
		Data: data,
	}
}

// setup starts a hook over a fake cluster with interactive job 43 and batch
// job 44, proxying to app.
func setup(t *testing.T, app *httptest.Server) (*fake.Clientset, *httptest.Server) {
	t.Helper()
	cs := fake.NewClientset(
		jobSecret("43", map[string][]byte{runtime.TokenKey: []byte(token)}),
		jobSecret("44", map[string][]byte{"id_ed25519": []byte("k")}),
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: runtime.WebServiceName(43), Namespace: ns, Labels: map[string]string{podgroup.LabelManaged: "true"}},
			Spec:       corev1.ServiceSpec{ClusterIP: "10.0.0.5", Ports: []corev1.ServicePort{{Port: 8888}}},
		},
	)
	appURL, _ := url.Parse(app.URL)
	h := New(cs, Options{
		Namespace: ns, JobsDomain: "jobs.example.com",
		Backend: func(n uint64) (*url.URL, error) { return appURL, nil },
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return cs, srv
}

type request struct {
	path, host, bearer, cookie string
	header                     map[string]string
}

func do(t *testing.T, srv *httptest.Server, rq request) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+rq.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rq.host != "" {
		req.Host = rq.host
	}
	if rq.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+rq.bearer)
	}
	if rq.cookie != "" {
		req.AddCookie(&http.Cookie{Name: CookieName, Value: rq.cookie})
	}
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// app stands in for a job's web app and reports what it received.
func app(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cookies []string
		for _, c := range r.Cookies() {
			cookies = append(cookies, c.Name)
		}
		io.WriteString(w, "app:"+r.URL.RequestURI()+" auth="+r.Header.Get("Authorization")+" cookies="+strings.Join(cookies, ","))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestAuthEndpoint(t *testing.T) {
	_, srv := setup(t, app(t))
	cases := map[string]struct {
		rq   request
		want int
	}{
		"no token":                  {request{path: "/auth?job=43"}, http.StatusUnauthorized},
		"wrong bearer":              {request{path: "/auth?job=43", bearer: "nope"}, http.StatusForbidden},
		"bearer":                    {request{path: "/auth?job=43", bearer: token}, http.StatusOK},
		"cookie":                    {request{path: "/auth?job=43", cookie: token}, http.StatusOK},
		"wrong cookie":              {request{path: "/auth?job=43", cookie: token[1:]}, http.StatusForbidden},
		"other job's token":         {request{path: "/auth?job=44", bearer: token}, http.StatusForbidden},
		"unknown job":               {request{path: "/auth?job=99", bearer: token}, http.StatusForbidden},
		"bad job":                   {request{path: "/auth?job=x", bearer: token}, http.StatusBadRequest},
		"no job at all":             {request{path: "/auth", bearer: token}, http.StatusBadRequest},
		"job from original url":     {request{path: "/auth", cookie: token, header: map[string]string{"X-Original-URL": "https://j43.jobs.example.com/vnc.html"}}, http.StatusOK},
		"job from forwarded host":   {request{path: "/auth", header: map[string]string{"X-Forwarded-Host": "j43.jobs.example.com"}}, http.StatusUnauthorized},
		"host of another domain":    {request{path: "/auth", bearer: token, header: map[string]string{"X-Forwarded-Host": "j43.evil.com"}}, http.StatusBadRequest},
		"leading zero is not a job": {request{path: "/auth", bearer: token, header: map[string]string{"X-Forwarded-Host": "j043.jobs.example.com"}}, http.StatusBadRequest},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp, _ := do(t, srv, tc.rq)
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestProxy(t *testing.T) {
	cs, srv := setup(t, app(t))
	host := "j43.jobs.example.com"
	resp, _ := do(t, srv, request{path: "/lab", host: host})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", resp.StatusCode)
	}
	resp, body := do(t, srv, request{path: "/lab", host: host, bearer: "wrong"})
	if resp.StatusCode != http.StatusForbidden || strings.HasPrefix(body, "app:") {
		t.Errorf("wrong token: %d %q, want 403 before the app", resp.StatusCode, body)
	}
	resp, body = do(t, srv, request{path: "/lab?x=1", host: host, bearer: token})
	if resp.StatusCode != http.StatusOK || body != "app:/lab?x=1 auth= cookies=" {
		t.Errorf("bearer: %d %q", resp.StatusCode, body)
	}
	resp, body = do(t, srv, request{path: "/", host: host, cookie: token, header: map[string]string{"Cookie": "theme=dark; " + CookieName + "=" + token}})
	if resp.StatusCode != http.StatusOK || body != "app:/ auth= cookies=theme" {
		t.Errorf("cookie: %d %q (the app must not see the token cookie)", resp.StatusCode, body)
	}
	// First visit with the token in the URL: cookie set, token dropped from the URL.
	resp, _ = do(t, srv, request{path: "/vnc.html?a=b&" + QueryParam + "=" + token, host: host})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/vnc.html?a=b" {
		t.Errorf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if c := resp.Cookies(); len(c) != 1 || c[0].Name != CookieName || c[0].Value != token || !c[0].HttpOnly {
		t.Errorf("login cookies %+v", c)
	}
	resp, _ = do(t, srv, request{path: "/?" + QueryParam + "=bad", host: host})
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("bad login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp, _ = do(t, srv, request{path: "/", host: "www.example.com", bearer: token})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("not a job host: %d", resp.StatusCode)
	}

	// The job ends: its Secret goes, and so does access.
	if err := cs.CoreV1().Secrets(ns).Delete(context.Background(), "j43", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ = do(t, srv, request{path: "/", host: host, bearer: token})
		if resp.StatusCode == http.StatusForbidden {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token still accepted after the job Secret was deleted: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDefaultBackend(t *testing.T) {
	cs := fake.NewClientset(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: runtime.WebServiceName(7), Namespace: ns, Labels: map[string]string{podgroup.LabelManaged: "true"}},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.0.0.5", Ports: []corev1.ServicePort{{Port: 8888}, {Port: 5901}}},
	})
	h := New(cs, Options{Namespace: ns})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := h.backend(7)
	if err != nil || u.String() != "http://10.0.0.5:8888" {
		t.Errorf("backend(7) = %v, %v", u, err)
	}
	if _, err := h.backend(8); err == nil {
		t.Error("backend of a job without a web service")
	}
}
