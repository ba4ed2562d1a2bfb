package client_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The lean round trip's own tests (lean.go): each runs with the lean
// path on and off (WithoutLeanHTTP), and both must behave the same.

var leanModes = []struct {
	name string
	opts []client.Option
}{{"lean", nil}, {"nethttp", []client.Option{client.WithoutLeanHTTP()}}}

// countingServer is an httptest server that counts the connections
// opened to it and the requests it served.
type countingServer struct {
	*httptest.Server
	conns, reqs atomic.Int64
}

func newCounting(t *testing.T, h http.HandlerFunc) *countingServer {
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.reqs.Add(1)
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func newLeanClient(t *testing.T, url string, opts ...client.Option) *client.Client {
	t.Helper()
	opts = append([]client.Option{client.WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)
	c, err := client.New([]string{url}, "key-1", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func jobReply(w http.ResponseWriter, _ *http.Request) {
	w.Header()["Content-Type"] = []string{"application/json"}
	_, _ = w.Write(cannedReply)
}

// The lean path sends the headers net/http sends and reuses its
// connection.
func TestLeanSendsNetHTTPHeadersAndReuses(t *testing.T) {
	got := map[string]http.Header{}
	var mu sync.Mutex
	for _, m := range leanModes {
		var s *countingServer
		s0 := func() string { return s.URL }
		s = newCounting(t, func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			h := r.Header.Clone()
			h.Set("X-Request-Id", "-")
			if r.Host != strings.TrimPrefix(s0(), "http://") {
				t.Errorf("Host %q", r.Host)
			}
			h.Set("X-Body", string(body[:6]))
			h.Set("X-Content-Length", string(rune('0'+len(body)/100)))
			mu.Lock()
			got[m.name] = h
			mu.Unlock()
			if r.Header.Get("X-Request-Id") == "" {
				t.Error("no request id")
			}
			jobReply(w, r)
		})
		c := newLeanClient(t, s.URL, m.opts...)
		for range 20 {
			j, err := c.SubmitJob(ctxFor(t, 10*time.Second), structs.JobSubmitRequest{App: "solver", MachineType: "n1", Nodes: 1})
			if err != nil || j.ID != "j-1" {
				t.Fatalf("%s: SubmitJob = %+v, %v", m.name, j, err)
			}
		}
		if n := s.conns.Load(); n != 1 {
			t.Errorf("%s: %d connections for 20 calls, want 1", m.name, n)
		}
	}
	a, b := got["lean"], got["nethttp"]
	if len(a) != len(b) {
		t.Errorf("headers differ:\nlean    %v\nnethttp %v", a, b)
	}
	for k, v := range b {
		if strings.Join(a[k], ",") != strings.Join(v, ",") {
			t.Errorf("header %s: lean %q, net/http %q", k, a[k], v)
		}
	}
}

// A pooled connection the server closed while idle is retried once on a
// fresh one; a chunked reply and a Connection: close reply are read.
func TestLeanStaleChunkedAndClose(t *testing.T) {
	for _, m := range leanModes {
		t.Run(m.name, func(t *testing.T) {
			var mode atomic.Int32
			s := newCounting(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				switch mode.Load() {
				case 1: // chunked, with a trailer
					w.Header()["Content-Type"] = []string{"application/json"}
					w.Header()["Trailer"] = []string{"X-Sum"}
					_, _ = w.Write(cannedReply[:10])
					w.(http.Flusher).Flush()
					_, _ = w.Write(cannedReply[10:])
					w.Header().Set("X-Sum", "1")
				case 2:
					w.Header()["Connection"] = []string{"close"}
					jobReply(w, r)
				default:
					jobReply(w, r)
				}
			})
			c := newLeanClient(t, s.URL, m.opts...)
			submit := func(what string) {
				t.Helper()
				j, err := c.SubmitJob(ctxFor(t, 10*time.Second), structs.JobSubmitRequest{ID: "j-1", App: "solver"})
				if err != nil || j.ID != "j-1" || j.Number != 1 {
					t.Fatalf("%s: SubmitJob = %+v, %v", what, j, err)
				}
			}
			submit("first")
			s.CloseClientConnections()
			submit("after the server closed the idle connection")
			if n := s.reqs.Load(); n != 2 {
				t.Errorf("%d requests served, want 2", n)
			}
			mode.Store(1)
			submit("chunked")
			submit("chunked again")
			if n := s.conns.Load(); n != 2 {
				t.Errorf("%d connections after chunked replies, want 2 (reused)", n)
			}
			mode.Store(2)
			submit("close 1")
			submit("close 2")
			if n := s.conns.Load(); n != 3 {
				t.Errorf("%d connections after two Connection: close replies, want 3 (the second on a new one)", n)
			}
		})
	}
}

// A hub that never replies: the budget ends the call; a call cancelled
// mid-reply ends with its context.
func TestLeanNoReplyAndCancelMidReply(t *testing.T) {
	for _, m := range leanModes {
		t.Run(m.name, func(t *testing.T) {
			release := make(chan struct{})
			started := make(chan struct{}, 1)
			s := newCounting(t, func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				// Only the second call's requests start a reply: the
				// first call's may reach the handler after it ended
				// (under load), and must not cancel the second early.
				if strings.Contains(string(body), `"j-2"`) {
					w.Header().Set("Content-Length", "1000")
					_, _ = w.Write([]byte(`{"id":`))
					w.(http.Flusher).Flush()
					select {
					case started <- struct{}{}:
					default:
					}
				}
				<-release
			})
			defer close(release)
			c := newLeanClient(t, s.URL, append([]client.Option{client.WithRetryTimeout(300 * time.Millisecond)}, m.opts...)...)
			_, err := c.SubmitJob(ctxFor(t, 10*time.Second), structs.JobSubmitRequest{ID: "j-1"})
			if err == nil || !strings.Contains(err.Error(), "timeout awaiting response headers") {
				t.Errorf("never replies: err = %v", err)
			}
			// As net/http's: the CLI says it kept trying for --timeout.
			var ne net.Error
			if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("never replies: err = %v, want a net.Error timeout matching context.DeadlineExceeded", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() { <-started; cancel() }()
			_, err = c.SubmitJob(ctx, structs.JobSubmitRequest{ID: "j-2"})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled mid-reply: err = %v, want context.Canceled", err)
			}
		})
	}
}

// rawServer answers every connection's first request with reply.
func rawServer(t *testing.T, reply string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				if _, err := http.ReadRequest(bufio.NewReader(nc)); err != nil {
					return
				}
				_, _ = io.WriteString(nc, reply)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// 1xx replies are skipped; a reply the lean path cannot read is an error.
func TestLeanReplyFraming(t *testing.T) {
	ok := "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + itoa(len(cannedReply)) + "\r\n\r\n" + string(cannedReply)
	c := newLeanClient(t, rawServer(t, ok))
	if j, err := c.SubmitJob(ctxFor(t, 10*time.Second), structs.JobSubmitRequest{ID: "j-1"}); err != nil || j.ID != "j-1" {
		t.Errorf("after a 103: %+v, %v", j, err)
	}
	for name, reply := range map[string]string{
		"HTTP/1.0":        "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
		"no length":       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}",
		"garbage":         "hello\r\n\r\n",
		"short body":      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",
		"bad chunk":       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"bad length":      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"other encoding":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"switching proto": "HTTP/1.1 101 Switching Protocols\r\n\r\n",
	} {
		c := newLeanClient(t, rawServer(t, reply), client.WithRetryTimeout(50*time.Millisecond))
		j, err := c.SubmitJob(ctxFor(t, 10*time.Second), structs.JobSubmitRequest{ID: "j-1"})
		// net/http (the lean path off) reads these two replies.
		wantErr := os.Getenv(client.LeanEnv) != "0" || (name != "HTTP/1.0" && name != "no length")
		if (err != nil) != wantErr {
			t.Errorf("%s: SubmitJob = %+v, %v; want an error: %v", name, j, err, wantErr)
		}
	}
}

func itoa(n int) string {
	b := []byte{}
	for ; n > 0 || len(b) == 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// A redirect is followed (the attempt goes through net/http).
func TestLeanRedirectFollowed(t *testing.T) {
	s := newCounting(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/jobs/old" {
			http.Redirect(w, r, "/v1/jobs/j-1", http.StatusTemporaryRedirect)
			return
		}
		jobReply(w, r)
	})
	c := newLeanClient(t, s.URL)
	if j, err := c.GetJob(ctxFor(t, 10*time.Second), "old", false); err != nil || j.ID != "j-1" {
		t.Errorf("GetJob through a redirect = %+v, %v", j, err)
	}
}

// Against real replicas, plain and over TLS: submissions, resubmissions
// and reads through the lean path match net/http's.
func TestLeanAgainstHub(t *testing.T) {
	for name, overTLS := range map[string]bool{"plain": false, "tls": true} {
		t.Run(name, func(t *testing.T) { leanAgainstHub(t, overTLS) })
	}
}

func leanAgainstHub(t *testing.T, overTLS bool) {
	c := hubtest.New(t, 3, hubtest.Options{NoSync: true, TLS: overTLS})
	ctx := ctxFor(t, 60*time.Second)
	if _, err := c.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	tc, err := c.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	seeded := false
	for _, m := range leanModes {
		admin, err := client.New(c.URLs(), c.AdminKey, append([]client.Option{client.WithTLS(tc)}, m.opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.CloseIdleConnections()
		if !seeded {
			seedJobs(ctx, t, admin)
			seeded = true
		}
		for i := range 20 {
			req := structs.JobSubmitRequest{App: "app", MachineType: "n1", Nodes: 1}
			j1, err := admin.SubmitJob(ctx, req)
			if err != nil {
				t.Fatalf("%s %d: SubmitJob: %v", m.name, i, err)
			}
			req.ID = j1.ID
			j2, err := admin.SubmitJob(ctx, req)
			if err != nil || j2.Number != j1.Number {
				t.Fatalf("%s: resubmission = %+v, %v; want number %d", m.name, j2, err, j1.Number)
			}
			j3, err := admin.GetJob(ctx, j1.ID, true)
			if err != nil || j3.Number != j1.Number || j3.App != "app" {
				t.Fatalf("%s: GetJob = %+v, %v", m.name, j3, err)
			}
		}
		if _, err := admin.GetJob(ctx, "j-missing", false); !errors.Is(err, structs.ErrNotFound) {
			t.Errorf("%s: GetJob(missing) = %v, want not found", m.name, err)
		}
	}
}

// benchSubmitClient runs SubmitJob through a Client against the
// hand-off benchmarks' server, 64 callers, with the lean path on or off:
// cpu-ns/op is the process's CPU (both ends) per call.
func benchSubmitClient(b *testing.B, opts ...client.Option) {
	srv := handoffServer()
	defer srv.Close()
	c, err := client.New([]string{srv.URL}, "flk_0123456789abcdef_0123456789abcdef0123456789abcdef", opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseIdleConnections()
	runSubmitBench(b, c)
}

// runSubmitBench submits through c from 64 callers (parallelism 32 on 2
// cores) and reports the process's CPU per call as cpu-ns/op.
func runSubmitBench(b *testing.B, c *client.Client) {
	req := structs.JobSubmitRequest{ID: "j-bench-123456", App: "solver", MachineType: "n1", Nodes: 1}
	ctx := context.Background()
	b.SetParallelism(32)
	b.ReportAllocs()
	c0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.SubmitJob(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/op")
}

func BenchmarkSubmitClientLean(b *testing.B)    { benchSubmitClient(b) }
func BenchmarkSubmitClientNetHTTP(b *testing.B) { benchSubmitClient(b, client.WithoutLeanHTTP()) }

// A hub behind a path prefix (a base URL with a path) gets the prefix in
// every request target, on both paths.
func TestLeanKeepsTheBaseURLsPath(t *testing.T) {
	for _, m := range leanModes {
		t.Run(m.name, func(t *testing.T) {
			var paths []string
			var mu sync.Mutex
			s := newCounting(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				paths = append(paths, r.URL.EscapedPath())
				mu.Unlock()
				jobReply(w, r)
			})
			c := newLeanClient(t, s.URL+"/hub%20a/", m.opts...)
			if _, err := c.SubmitJob(context.Background(), structs.JobSubmitRequest{ID: "j-1", App: "a", MachineType: "m", Nodes: 1}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(paths) != 1 || paths[0] != "/hub%20a/v1/jobs" {
				t.Fatalf("request targets %q, want [/hub%%20a/v1/jobs]", paths)
			}
		})
	}
}
