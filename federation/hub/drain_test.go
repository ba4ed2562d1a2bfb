package hub_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
)

// TestWatchesEndOnDrain opens a /v1/events stream (SSE), a /v1/events
// long poll, a job watch and an agent's assignment watch on a replica,
// each willing to wait minutes, then shuts the replica down gracefully
// (hubtest's Stop: a drain timeout of 10 s) once all four are in their
// handlers (the replica's in-flight gauge says so; a request the replica
// has read but not yet handed to a handler is cut by a graceful shutdown,
// as it should be): every one of them ends within
// 3 s (the stream cleanly, the long polls with a 200 and what they have),
// and the shutdown takes far less than its drain timeout.
func TestWatchesEndOnDrain(t *testing.T) {
	const (
		drainTimeout = 10 * time.Second // hubtest.Cluster.Stop
		promptly     = 3 * time.Second
	)
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	f := seed(t, c)
	ctx := ctxFor(t, 90*time.Second)
	admin := newClient(t, c, c.AdminKey)
	agentKey, err := admin.CreateAgentKey(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	base := c.URL(0)
	hc := &http.Client{Transport: &http.Transport{}}
	get := func(path, key, accept string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		return hc.Do(req)
	}
	job, err := newClient(t, c, f.Key).SubmitJob(ctx, f.job("drain-1"))
	if err != nil {
		t.Fatal(err)
	}
	index := job.ModifyIndex // nothing happens after it: every watch waits

	// The stream: established once its first comment arrived.
	stream, err := get(fmt.Sprintf("/v1/events?since=%d", index), c.AdminKey, "text/event-stream")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	first, err := bufio.NewReader(stream.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(first, ": flotilla events") {
		t.Fatalf("stream: %d %q, %v", stream.StatusCode, first, err)
	}
	streamEnded := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, stream.Body)
		streamEnded <- err
	}()

	// The long polls: in flight once the replica read their requests.
	type reply struct {
		name   string
		status int
		err    error
	}
	polls := map[string]struct{ path, key string }{
		"events long poll": {fmt.Sprintf("/v1/events?since=%d&wait=5m", index), c.AdminKey},
		"jobs watch":       {fmt.Sprintf("/v1/jobs?index=%d&wait=5m", index), c.AdminKey},
		"assignments watch": {fmt.Sprintf("/v1/clusters/east/assignments?index=%d&wait=5m", index),
			agentKey.Key},
	}
	replies := make(chan reply, len(polls))
	for name, p := range polls {
		go func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+p.path, nil)
			if err != nil {
				replies <- reply{name: name, err: err}
				return
			}
			req.Header.Set("Authorization", "Bearer "+p.key)
			resp, err := hc.Do(req)
			if err != nil {
				replies <- reply{name: name, err: err}
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			replies <- reply{name: name, status: resp.StatusCode, err: err}
		}()
	}
	// In flight once the replica's handlers hold all four (the stream and
	// the three polls).
	for inFlight(t, ctx, base) < float64(len(polls)+1) {
		select {
		case r := <-replies:
			t.Fatalf("%s ended before the drain: %d, %v", r.name, r.status, r.err)
		case <-ctx.Done():
			t.Fatal("the replica's handlers did not take every long poll")
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case r := <-replies:
		t.Fatalf("%s ended before the drain: %d, %v", r.name, r.status, r.err)
	case err := <-streamEnded:
		t.Fatalf("stream ended before the drain: %v", err)
	default:
	}

	start := time.Now()
	shutdown := make(chan struct{})
	go func() {
		defer close(shutdown)
		c.Stop(0)
	}()
	deadline := time.NewTimer(promptly)
	defer deadline.Stop()
	for pending := len(polls) + 1; pending > 0; pending-- {
		select {
		case err := <-streamEnded:
			if err != nil {
				t.Errorf("stream ended with %v, want a clean end", err)
			}
			t.Logf("stream ended after %v", time.Since(start).Round(time.Millisecond))
		case r := <-replies:
			if r.err != nil || r.status != http.StatusOK {
				t.Errorf("%s: %d, %v; want 200 with what it has", r.name, r.status, r.err)
			}
			t.Logf("%s answered after %v", r.name, time.Since(start).Round(time.Millisecond))
		case <-deadline.C:
			t.Fatalf("%d watches still open %v into the drain (drain timeout %v)", pending, promptly, drainTimeout)
		}
	}
	select {
	case <-shutdown:
		if took := time.Since(start); took > drainTimeout/3 {
			t.Errorf("shutdown took %v with a drain timeout of %v", took, drainTimeout)
		}
	case <-time.After(drainTimeout / 3):
		t.Errorf("shutdown still draining after %v", drainTimeout/3)
	}
}

// inFlight reads the replica's flotilla_hub_api_requests_in_flight gauge.
func inFlight(t *testing.T, ctx context.Context, base string) float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+hub.MetricsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "flotilla_hub_api_requests_in_flight "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("in-flight gauge %q: %v", v, err)
			}
			return f
		}
	}
	t.Fatalf("scrape: no in-flight gauge (%s, %v)", resp.Status, sc.Err())
	return 0
}
