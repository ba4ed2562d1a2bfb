package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// hangingHub takes requests and answers none until the test ends.
func hangingHub(t *testing.T) (*httptest.Server, *atomic.Int32) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then a closed connection ends r's context
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv, &calls
}

// TestRetryBudgetWithoutTimerContext: the retry budget is a deadline
// checked between attempts, yet a caller's context still stops a call
// under way at once, a hub that never answers still ends the call (the
// default transport's reply timeout, then the budget), a Retry-After past
// the budget ends the call with the hub's refusal instead of a wait, and
// no call leaves a goroutine behind.
func TestRetryBudgetWithoutTimerContext(t *testing.T) {
	req := structs.JobSubmitRequest{App: "a", MachineType: "m", Nodes: 1}
	srv, calls := hangingHub(t)
	var limited atomic.Int32
	lim := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		limited.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":"slow down"}`))
	}))
	defer lim.Close()
	before := runtime.NumGoroutine()

	// The caller's cancellation stops the attempt under way.
	cl, err := client.New([]string{srv.URL}, "k", client.WithRetryTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := cl.SubmitJob(ctx, req)
		errc <- err
	}()
	waitUntil(t, "the request reached the hub", func() bool { return calls.Load() == 1 })
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled call = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a cancelled call kept waiting for the hub")
	}

	// The caller's own deadline too.
	dctx, dcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer dcancel()
	if _, err := cl.SubmitJob(dctx, req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("call past the caller's deadline = %v", err)
	}

	// No context of its own at all: the budget still ends the call.
	short, err := client.New([]string{srv.URL}, "k", client.WithRetryTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := short.SubmitJob(context.Background(), req)
		errc <- err
	}()
	select {
	case err := <-errc:
		if err == nil {
			t.Errorf("a call to a hub that never answers succeeded")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("a call to a hub that never answers never ended")
	}

	// A Retry-After past the budget (lim): the hub's 429 at once, one
	// request.
	lc, err := client.New([]string{lim.URL}, "k", client.WithRetryTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lc.SubmitJob(context.Background(), req); !errors.Is(err, structs.ErrRateLimited) || limited.Load() != 1 {
		t.Errorf("a Retry-After past the budget: %v after %d requests, want the 429 after one", err, limited.Load())
	}

	for _, c := range []*client.Client{cl, short, lc} {
		c.CloseIdleConnections()
	}
	waitUntil(t, "the calls' goroutines gone", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

// waitUntil polls cond until it holds, failing the test after 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}
