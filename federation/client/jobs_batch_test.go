package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// seedJobs writes what a submission of app "app" on machine type n1 needs.
func seedJobs(ctx context.Context, t *testing.T, admin *client.Client) {
	t.Helper()
	for _, step := range []func() error{
		func() error { _, err := admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}); return err },
		func() error { _, err := admin.PutCluster(ctx, "east", &structs.ClusterSpec{}); return err },
		func() error {
			_, err := admin.PutMachineType(ctx, &structs.MachineType{Name: "n1", Cores: 1, Cluster: "east"})
			return err
		},
		func() error {
			_, err := admin.PutApp(ctx, &structs.App{Name: "app", Visibility: structs.VisibilityPublic,
				AppDef: structs.AppDef{Name: "App", Commands: map[string]structs.Command{"run": {Path: "/run.sh"}}}})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
}

// countingProxy forwards to target, counting requests by "METHOD path";
// batch, if set, answers POST /v1/jobs/batch instead.
type countingProxy struct {
	mu    sync.Mutex
	calls map[string]int
}

func (p *countingProxy) count(r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[r.Method+" "+r.URL.Path]++
}

func (p *countingProxy) get(k string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[k]
}

func newProxy(t *testing.T, target string, batch func(w http.ResponseWriter, r *http.Request, next http.Handler)) (*countingProxy, string) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{calls: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.count(r)
		if batch != nil && r.URL.Path == "/v1/jobs/batch" {
			batch(w, r, rp)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return p, srv.URL
}

// TestSubmitJobsFallsBackToSingleCalls: against a hub that predates the
// batch endpoint (404 no_such_endpoint, or 405 from something in front),
// SubmitJobs sends one POST /v1/jobs per job, with the same results.
func TestSubmitJobsFallsBackToSingleCalls(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	ctx := ctxFor(t, 60*time.Second)
	admin, _ := client.New(c.URLs(), c.AdminKey)
	seedJobs(ctx, t, admin)
	older := map[string]func(http.ResponseWriter, *http.Request, http.Handler){
		"404": func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
			// what an older hub's catch-all answers (api: notFound)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = fmt.Fprintf(w, `{"error":"POST %s: no such endpoint: not found","code":"no_such_endpoint"}`, r.URL.Path)
		},
		"405": func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
			w.Header().Set("Allow", "GET")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		},
	}
	for name, batch := range older {
		t.Run(name, func(t *testing.T) {
			p, u := newProxy(t, c.URL(0), batch)
			cl, err := client.New([]string{u}, c.AdminKey)
			if err != nil {
				t.Fatal(err)
			}
			reqs := []structs.JobSubmitRequest{
				{App: "app", MachineType: "n1", Nodes: 1},
				{App: "app", MachineType: "n1", Nodes: 0},
				{App: "app", MachineType: "n1", Nodes: 1, Label: "third"},
			}
			res, err := cl.SubmitJobs(ctx, reqs)
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Job == nil || res[0].Job.ID != reqs[0].ID || res[2].Job == nil || res[2].Job.Label != "third" {
				t.Errorf("results %+v, want jobs 0 and 2 under the stamped ids", res)
			}
			if client.StatusOf(res[1].Err) != http.StatusBadRequest || res[1].Job != nil {
				t.Errorf("result 1: %+v, want a 400", res[1])
			}
			if got := p.get("POST /v1/jobs"); got != 3 {
				t.Errorf("%d single submissions, want 3", got)
			}
			if got := p.get("POST /v1/jobs/batch"); got != 1 {
				t.Errorf("%d batch calls, want 1 (then singles)", got)
			}
			// Again with the same (now stamped) requests: the same jobs.
			again, err := cl.SubmitJobs(ctx, reqs)
			if err != nil || again[0].Job.Number != res[0].Job.Number || again[2].Job.Number != res[2].Job.Number {
				t.Errorf("resubmitted: %+v, %v", again, err)
			}
		})
	}
	jobs, _, err := c.Hub(0).Store().Read().ListJobs(state.JobFilter{})
	if err != nil || len(jobs) != 4 {
		t.Errorf("%d jobs stored (%v), want 4: two per run", len(jobs), err)
	}
}

// TestSubmitJobsExactlyOnceThroughThreeReplicas submits 2,000 jobs in
// batches of 1,000 through a real 3-replica hub, the first batch's reply
// cut off half way (the caller's connection closed while the hub still
// admits its items, which stops it part way): the client sends it again
// and every job is stored exactly once, on every replica.
func TestSubmitJobsExactlyOnceThroughThreeReplicas(t *testing.T) {
	const n = 2000
	c := hubtest.New(t, 3, hubtest.Options{NoSync: true})
	ctx := ctxFor(t, 3*time.Minute)
	leader, err := c.WaitReady(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := client.New(c.URLs(), c.AdminKey, client.WithRetryTimeout(time.Minute))
	seedJobs(ctx, t, admin)
	stored := func(i int) int {
		jobs, _, err := c.Hub(i).Store().Read().ListJobs(state.JobFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(jobs)
	}
	follower := (leader + 1) % c.N()
	var cut atomic.Bool
	var atCut atomic.Int64
	p, u := newProxy(t, c.URL(follower), func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if !cut.CompareAndSwap(false, true) {
			next.ServeHTTP(w, r)
			return
		}
		// The first batch: forwarded, then its connection to the hub
		// closed once some of its jobs are stored, and the caller's
		// connection closed without a reply.
		up, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for stored(leader) < 100 {
				select {
				case <-up.Done():
					return
				case <-tick.C:
				}
			}
			cancel()
		}()
		next.ServeHTTP(&discard{h: http.Header{}}, r.WithContext(up))
		atCut.Store(int64(stored(leader)))
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	})
	cl, err := client.New([]string{u}, c.AdminKey, client.WithRetryTimeout(time.Minute),
		client.WithBackoff(time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	reqs := make([]structs.JobSubmitRequest, n)
	for i := range reqs {
		reqs[i] = structs.JobSubmitRequest{App: "app", MachineType: "n1", Nodes: 1, Label: fmt.Sprintf("sweep-%d", i)}
	}
	res, err := cl.SubmitJobs(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if k := atCut.Load(); k == 0 || k >= n/2 {
		t.Errorf("the cut attempt stored %d jobs, want some of its %d, not all", k, n/2)
	} else {
		t.Logf("the cut attempt stored %d of %d jobs before its retry", k, n/2)
	}
	if got := p.get("POST /v1/jobs/batch"); got < 3 {
		t.Errorf("%d batch calls, want at least 3 (the cut one, its retry, the second 1,000)", got)
	}
	numbers := map[uint64]bool{}
	for i, r := range res {
		if r.Err != nil || r.Job == nil || r.Job.ID != reqs[i].ID || r.Job.Label != reqs[i].Label {
			t.Fatalf("result %d: %+v", i, r)
		}
		if numbers[r.Job.Number] {
			t.Fatalf("job number %d twice", r.Job.Number)
		}
		numbers[r.Job.Number] = true
	}
	all, err := admin.AllJobs(ctx, client.JobQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitApplied(ctx, all[len(all)-1].ModifyIndex); err != nil {
		t.Fatal(err)
	}
	for i := range c.N() {
		jobs, _, err := c.Hub(i).Store().Read().ListJobs(state.JobFilter{})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, j := range jobs {
			seen[j.ID]++
		}
		if len(jobs) != n {
			t.Errorf("replica %d stores %d jobs, want %d", i, len(jobs), n)
		}
		for _, r := range reqs {
			if seen[r.ID] != 1 {
				t.Errorf("replica %d stores job %s %d times", i, r.ID, seen[r.ID])
				break
			}
		}
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}
