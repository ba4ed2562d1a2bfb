package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/loopport"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// deadURL is an address nothing listens on: a port reserved for this
// process (internal/loopport), which no other process's listen takes.
func deadURL(t *testing.T) string {
	port, err := loopport.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

// recorder counts requests per host.
type recorder struct {
	mu    sync.Mutex
	hosts []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.hosts = append(r.hosts, req.URL.Host)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hosts[len(r.hosts)-1]
}

func TestClientFailsOverAndFollowsLeader(t *testing.T) {
	c := hubtest.New(t, 3, hubtest.Options{NoSync: true})
	ctx := ctxFor(t, 60*time.Second)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	follower := (leader + 1) % 3
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"no leader"}`))
	}))
	defer unavailable.Close()
	rec := &recorder{}
	cl, err := client.New([]string{deadURL(t), unavailable.URL, c.URL(follower), c.URL(leader)}, c.AdminKey,
		client.WithHTTPClient(&http.Client{Transport: rec}), client.WithBackoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
		t.Fatalf("a dead and an unavailable replica first: %v", err)
	}
	if got, want := rec.last(), strings.TrimPrefix(c.URL(follower), "http://"); got != want {
		t.Errorf("first success at %s, want the follower %s", got, want)
	}
	// The follower's reply names the leader and the client's next call
	// goes there. Under load a replica may answer before it knows the
	// leader (no hint) or the leadership may move (another hint): the
	// client must reach the replica leading at the time within a few
	// calls, and one that ignored hints would stay on the follower.
	for tries := 1; ; tries++ {
		if _, err := cl.GetTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		now, err := c.WaitLeader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, want := rec.last(), strings.TrimPrefix(c.URL(now), "http://")
		if got == want {
			break
		}
		if tries == 20 {
			t.Fatalf("after %d calls with leader hints the client called %s, want the leader %s (the leader at the start: %s)",
				tries, got, want, strings.TrimPrefix(c.URL(leader), "http://"))
		}
	}

	// Errors carry their kind; a refusal is not retried elsewhere.
	n := len(rec.hosts)
	_, err = cl.GetTenant(ctx, "nope")
	if !errors.Is(err, structs.ErrNotFound) || client.StatusOf(err) != http.StatusNotFound {
		t.Errorf("missing tenant: %v", err)
	}
	if len(rec.hosts) != n+1 {
		t.Errorf("a 404 took %d requests", len(rec.hosts)-n)
	}
	bad, _ := client.New([]string{c.URL(leader)}, "flk_0000000000000000_"+strings.Repeat("0", 64))
	if _, err := bad.ListTenants(ctx); !errors.Is(err, structs.ErrUnauthorized) {
		t.Errorf("bad key: %v", err)
	}
	if leaderID, err := cl.Ready(ctx); err != nil || leaderID != string(c.ID(leader)) {
		t.Errorf("Ready = %q, %v", leaderID, err)
	}
}

func TestClientGivesUpWithTheHubsError(t *testing.T) {
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"no leader reachable"}`))
	}))
	defer unavailable.Close()
	cl, err := client.New([]string{unavailable.URL, deadURL(t)}, "k",
		client.WithRetryTimeout(300*time.Millisecond), client.WithBackoff(time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.SubmitJob(context.Background(), structs.JobSubmitRequest{App: "a", MachineType: "m", Nodes: 1})
	if !errors.Is(err, structs.ErrUnavailable) || !strings.Contains(err.Error(), "no leader reachable") {
		t.Errorf("SubmitJob = %v, want the hub's 503", err)
	}
	for _, bad := range [][]string{nil, {"ftp://x"}, {"http://"}} {
		if _, err := client.New(bad, ""); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}

func TestClientSubmitIsIdempotent(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	ctx := ctxFor(t, 60*time.Second)
	admin, _ := client.New(c.URLs(), c.AdminKey)
	seedJobs(ctx, t, admin)
	req := structs.JobSubmitRequest{App: "app", MachineType: "n1", Nodes: 1}
	j1, err := admin.SubmitJob(ctx, req)
	if err != nil || !strings.HasPrefix(j1.ID, "j-") {
		t.Fatalf("SubmitJob = %+v, %v", j1, err)
	}
	req.ID = j1.ID
	j2, err := admin.SubmitJob(ctx, req)
	if err != nil || j2.Number != j1.Number {
		t.Errorf("resubmission = %+v, %v; want number %d", j2, err, j1.Number)
	}
	all, err := admin.AllJobs(ctx, client.JobQuery{})
	if err != nil || len(all) != 1 {
		t.Errorf("jobs = %d, %v; want 1", len(all), err)
	}
}

// BenchmarkSubmitJob measures the client's side of a job submission: a
// hub stand-in on loopback answers every POST /v1/jobs with the same
// job, so the figures are the client's work (encoding, the request, the
// transport, reading and decoding the reply) and the stand-in's.
func BenchmarkSubmitJob(b *testing.B) {
	reply := []byte(`{"id":"j-1","number":1,"name":"solver-1","tenant":"bench","owner":"bench","app":"solver",` +
		`"command":"Run","machine_type":"n1","nodes":1,"state":"QUEUED","submit_time":"2026-12-06T12:00:00Z",` +
		`"create_index":11,"modify_index":11}` + "\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Header()["Content-Length"] = []string{strconv.Itoa(len(reply))}
		_, _ = w.Write(reply)
	}))
	defer srv.Close()
	c, err := client.New([]string{srv.URL}, "flk_0123456789abcdef_0123456789abcdef0123456789abcdef")
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx := context.Background()
	k := 0
	b.ReportAllocs()
	for b.Loop() {
		k++
		if _, err := c.SubmitJob(ctx, structs.JobSubmitRequest{ID: "j-bench-" + strconv.Itoa(k), App: "solver", MachineType: "n1", Nodes: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
