package client_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// flaky is a hub stand-in whose first request fails as fail says and
// whose later requests succeed.
type flaky struct {
	fail  func(w http.ResponseWriter)
	calls atomic.Int32
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if f.calls.Add(1) == 1 {
		f.fail(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"j-1","key":"k"}`))
}

func reply(status int, retryAfter string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":"failed on purpose"}`))
	}
}

// hangUp reads the request, then closes the connection without a reply:
// the request went out, its outcome is unknown.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// TestClientRetriesOnlyWhatIsSafe fails the first attempt of a call in
// each way a hub (or a proxy, or the network) can, and checks whether the
// client tried again: a keyed call (a job submission, whose ID is its
// idempotency key; a GET) and an unkeyed one (creating an API key, which
// makes a new key each time). Retried: a request never sent; 429 (after
// its Retry-After), 503 and 421 with Retry-After; for keyed calls also no
// reply after the request went out and a proxy's 502, 504 or 503 without
// Retry-After. Never: any other 4xx, or a 500.
func TestClientRetriesOnlyWhatIsSafe(t *testing.T) {
	type calls struct {
		name string
		do   func(context.Context, *client.Client) error
	}
	keyed := []calls{
		{"submit", func(ctx context.Context, c *client.Client) error {
			_, err := c.SubmitJob(ctx, structs.JobSubmitRequest{App: "a", MachineType: "m", Nodes: 1})
			return err
		}},
		{"get", func(ctx context.Context, c *client.Client) error { _, err := c.GetJob(ctx, "j-1", false); return err }},
	}
	unkeyed := calls{"create api key", func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateAPIKey(ctx, "alice", "k")
		return err
	}}
	cases := map[string]struct {
		fail                     func(http.ResponseWriter)
		keyedRetry, unkeyedRetry bool
		status                   int // the status of a call not retried (0: no reply)
	}{
		"429 with Retry-After":                 {fail: reply(429, "1"), keyedRetry: true, unkeyedRetry: true},
		"503 with Retry-After":                 {fail: reply(503, "1"), keyedRetry: true, unkeyedRetry: true},
		"421 with Retry-After":                 {fail: reply(421, "1"), keyedRetry: true, unkeyedRetry: true},
		"503 without Retry-After (a proxy's)":  {fail: reply(503, ""), keyedRetry: true, status: 503},
		"502 (a proxy's)":                      {fail: reply(502, ""), keyedRetry: true, status: 502},
		"504 (a proxy's)":                      {fail: reply(504, ""), keyedRetry: true, status: 504},
		"no reply after the request went out":  {fail: hangUp, keyedRetry: true},
		"400":                                  {fail: reply(400, ""), status: 400},
		"401":                                  {fail: reply(401, ""), status: 401},
		"403":                                  {fail: reply(403, ""), status: 403},
		"404":                                  {fail: reply(404, ""), status: 404},
		"409":                                  {fail: reply(409, ""), status: 409},
		"421 without Retry-After":              {fail: reply(421, ""), status: 421},
		"500":                                  {fail: reply(500, ""), status: 500},
		"500 with Retry-After (still a reply)": {fail: reply(500, "1"), status: 500},
	}
	for name, tc := range cases {
		for _, call := range append(keyed, unkeyed) {
			wantRetry := tc.unkeyedRetry
			if call.name != unkeyed.name {
				wantRetry = tc.keyedRetry
			}
			t.Run(name+"/"+call.name, func(t *testing.T) {
				t.Parallel()
				hub := &flaky{fail: tc.fail}
				srv := httptest.NewServer(hub)
				defer srv.Close()
				cl, err := client.New([]string{srv.URL}, "k", client.WithRetryTimeout(20*time.Second),
					client.WithBackoff(time.Millisecond, 10*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				defer cl.CloseIdleConnections()
				err = call.do(ctxFor(t, 30*time.Second), cl)
				got := hub.calls.Load()
				switch {
				case wantRetry && (err != nil || got != 2):
					t.Errorf("want a retry and success: %d requests, %v", got, err)
				case !wantRetry && (err == nil || got != 1):
					t.Errorf("want no retry and the error: %d requests, %v", got, err)
				case !wantRetry && client.StatusOf(err) != tc.status:
					t.Errorf("error %v, want status %d", err, tc.status)
				case !wantRetry && tc.status == 0 && !strings.Contains(err.Error(), "not retried"):
					t.Errorf("error %q does not say why it was not retried", err)
				}
			})
		}
	}
}

// TestClientRetriesUnsentRequests: a replica that refuses the connection
// got nothing, so every call, keyed or not, moves on to the next replica.
func TestClientRetriesUnsentRequests(t *testing.T) {
	hub := &flaky{fail: func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }}
	srv := httptest.NewServer(hub)
	defer srv.Close()
	cl, err := client.New([]string{deadURL(t), srv.URL}, "k", client.WithBackoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.CloseIdleConnections()
	hub.calls.Store(1) // every request succeeds
	if _, err := cl.CreateAPIKey(ctxFor(t, 20*time.Second), "alice", "k"); err != nil || hub.calls.Load() != 2 {
		t.Errorf("create api key past a dead replica: %d requests, %v", hub.calls.Load()-1, err)
	}
}
