package agent_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/authhook"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// testInteractive runs an interactive job and reaches its app through the
// auth hook's proxy: refused without the job's token or with a wrong one,
// let through with it, refused again once the job ended.
func testInteractive(ctx context.Context, t *testing.T, c *rtCluster) {
	js := rtJob(6, 1)
	js.Command = structs.Command{Path: "/usr/bin/jupyter-lab", Interactive: true, Ports: []string{"8888/tcp"}}
	c.ag.Jobs.AddInput(js)
	waitFor(t, time.Minute, "job 6 running", func() (bool, string) {
		st := c.ag.Jobs.States()[6]
		return st == structs.JobRunning, string(st)
	})
	got := names(c.objects(ctx, t, 6))
	if fmt.Sprint(got["Ingress"]) != "[j6]" || fmt.Sprint(got["Service"]) != "[j6 j6-web]" {
		t.Errorf("interactive objects %v", got)
	}
	sec, err := c.env.Client.CoreV1().Secrets(rtNS).Get(ctx, "j6", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := string(sec.Data[runtime.TokenKey])

	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "jupyter says hi")
	}))
	defer appSrv.Close()
	appURL, _ := url.Parse(appSrv.URL)
	hook := authhook.New(c.env.Client, authhook.Options{
		Namespace: rtNS, JobsDomain: "jobs.test",
		Backend: func(n uint64) (*url.URL, error) {
			if n != 6 {
				return nil, fmt.Errorf("job %d", n)
			}
			return appURL, nil
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	if err := hook.Start(hctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hook.Handler())
	defer srv.Close()
	get := func(path, bearer string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		req.Host = "j6.jobs.test"
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, 30*time.Second, "the hook to know job 6", func() (bool, string) {
		code, _ := get("/auth?job=6", token)
		return code == http.StatusOK, fmt.Sprint(code)
	})
	if code, body := get("/lab", ""); code != http.StatusUnauthorized || strings.Contains(body, "jupyter") {
		t.Errorf("without a token: %d %q, want 401", code, body)
	}
	if code, body := get("/lab", "not-the-token"); code != http.StatusForbidden || strings.Contains(body, "jupyter") {
		t.Errorf("wrong token: %d %q, want 403", code, body)
	}
	if code, body := get("/lab", token); code != http.StatusOK || body != "jupyter says hi" {
		t.Errorf("with the token: %d %q", code, body)
	}
	c.ag.Jobs.Cancel(6)
	c.waitEnd(t, js, structs.JobTerminated, 0)
	c.waitGone(ctx, t, 6)
	waitFor(t, 30*time.Second, "access to end with the job", func() (bool, string) {
		code, _ := get("/lab", token)
		return code == http.StatusForbidden, fmt.Sprint(code)
	})
}
