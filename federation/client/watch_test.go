package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestWatchOutlastsTheHeaderWait: a watch (wait=) is answered when its
// wait ends; the client waits that long for the reply, longer than its
// reply header wait (the retry budget), instead of giving up just as the
// hub answers. The agent's assignments watch waits 30 s with a 30 s
// budget: without this, every quiet watch failed.
func TestWatchOutlastsTheHeaderWait(t *testing.T) {
	var calls atomic.Int32
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
		select { // the hub's wait: nothing changed
		case <-time.After(wait):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"assignments":[],"index":7}`))
	}))
	defer hub.Close()
	cl, err := client.New([]string{hub.URL}, "k", client.WithRetryTimeout(300*time.Millisecond),
		client.WithBackoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 30*time.Second)
	list, err := cl.Assignments(ctx, "east", client.AssignmentQuery{Index: 5, Wait: 900 * time.Millisecond})
	if err != nil {
		t.Fatalf("a watch answered at the end of its wait: %v", err)
	}
	if list.Index != 7 || calls.Load() != 1 {
		t.Errorf("index %d after %d calls, want 7 after 1", list.Index, calls.Load())
	}
	// A hub that does not answer within the wait and the header wait
	// still ends the watch.
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hung.Close()
	cl2, err := client.New([]string{hung.URL}, "k", client.WithRetryTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := cl2.Assignments(ctx, "east", client.AssignmentQuery{Index: 5, Wait: 300 * time.Millisecond}); err == nil {
		t.Error("a hub that never answers: the watch succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the watch of a hung hub ended after %s", d)
	}
}

// TestNextCallSkipsTheSilentReplica: a replica that takes requests and
// never answers costs one call its budget; the next call starts at the
// next replica instead of spending its budget there again.
func TestNextCallSkipsTheSilentReplica(t *testing.T) {
	release := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer silent.Close()
	defer close(release)
	var answered atomic.Int32
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answered.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	defer live.Close()
	cl, err := client.New([]string{silent.URL, live.URL}, "k", client.WithRetryTimeout(300*time.Millisecond),
		client.WithBackoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 30*time.Second)
	_ = cl.Healthz(ctx) // the silent replica first: its budget is spent there
	before := answered.Load()
	if err := cl.Healthz(ctx); err != nil {
		t.Fatalf("the call after a silent replica: %v", err)
	}
	if answered.Load() != before+1 {
		t.Errorf("the live replica answered %d calls, want 1 more", answered.Load()-before)
	}
}

// TestCancelledCallSendsNothing: a call whose context has ended sends
// nothing, on the lean round trip as on net/http: a write its caller saw
// fail with "context canceled" must not reach the hub and take effect
// later (test/cloud's interrupted up found its record written after the
// next run read it).
func TestCancelledCallSendsNothing(t *testing.T) {
	var got atomic.Int32
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer hub.Close()
	for _, lean := range []bool{true, false} {
		var opts []client.Option
		if !lean {
			opts = append(opts, client.WithoutLeanHTTP())
		}
		cl, err := client.New([]string{hub.URL}, "k", opts...)
		if err != nil {
			t.Fatal(err)
		}
		// A kept-alive connection first: the cancelled call would find it.
		if _, err := cl.GetTenant(context.Background(), "acme"); err != nil {
			t.Fatal(err)
		}
		before := got.Load()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for range 50 {
			if _, err := cl.PutTenant(ctx, &structs.Tenant{Name: "acme"}); !errors.Is(err, context.Canceled) {
				t.Errorf("lean %v: a cancelled call: %v, want context.Canceled", lean, err)
			}
		}
		if n := got.Load() - before; n != 0 {
			t.Errorf("lean %v: %d cancelled calls reached the hub", lean, n)
		}
	}
}
