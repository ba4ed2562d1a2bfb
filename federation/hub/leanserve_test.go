package hub_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// The lean server path's tests (leanserve.go, leantls.go) against a real
// replica, in raw HTTP/1.1 on TCP and over TLS (ALPN http/1.1): each runs
// on both listeners (overListeners). They pass with the path off too
// (FLOTILLA_HUB_LEAN=0): net/http answers the same; the lean path's own
// counters are checked only when it is on.

type leanHub struct {
	c    *hubtest.Cluster
	h    *hub.Hub
	f    fixture
	addr string
	tls  *tls.Config  // the client's, offering http/1.1; nil on plain HTTP
	hc   *http.Client // for /metrics
}

// overListeners runs test on a plain-HTTP replica and on one serving TLS.
func overListeners(t *testing.T, test func(t *testing.T, overTLS bool)) {
	for _, overTLS := range []bool{false, true} {
		name := "plain"
		if overTLS {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) { test(t, overTLS) })
	}
}

func newLeanHub(t *testing.T, overTLS bool, configure func(*hub.Config)) *leanHub {
	t.Helper()
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true, TLS: overTLS, Configure: func(_ int, cfg *hub.Config) {
		if configure != nil {
			configure(cfg)
		}
	}})
	f := seed(t, c)
	h := c.Hub(0)
	lh := &leanHub{c: c, h: h, f: f, addr: h.Addr().String(), hc: &http.Client{Transport: &http.Transport{}}}
	if overTLS {
		tc, err := c.ClientTLS()
		if err != nil {
			t.Fatal(err)
		}
		lh.hc.Transport.(*http.Transport).TLSClientConfig = tc.Clone()
		tc.NextProtos, tc.ServerName = []string{"http/1.1"}, hubtls.ServerNameOf(lh.addr)
		lh.tls = tc
	}
	t.Cleanup(lh.hc.CloseIdleConnections)
	return lh
}

// dial opens a raw connection to the replica (over TLS on a TLS replica),
// closed with the test.
func (lh *leanHub) dial(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc := lh.dialWith(t, nil)
	_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
	return nc, bufio.NewReader(nc)
}

// dialWith opens a connection as dial does, calling prep on the TCP
// connection first.
func (lh *leanHub) dialWith(t *testing.T, prep func(*net.TCPConn)) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", lh.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	if prep != nil {
		prep(nc.(*net.TCPConn))
	}
	if lh.tls == nil {
		return nc
	}
	tc := tls.Client(nc, lh.tls)
	if err := tc.HandshakeContext(ctxFor(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("ALPN chose %q, want http/1.1", p)
	}
	return tc
}

// submission is a raw POST /v1/jobs of job id.
func (lh *leanHub) submission(id string, extra ...string) string {
	body, _ := json.Marshal(lh.f.job(id))
	return lh.raw("/v1/jobs", lh.f.Key, string(body), extra...)
}

func (lh *leanHub) raw(path, key, body string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n", path, lh.addr, key)
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// counts returns the lean path's counters (zeros when it is off).
func (lh *leanHub) counts() (served, handedOff uint64) {
	s, h, _ := hub.LeanCounts(lh.h)
	return s, h
}

func leanOn(h *hub.Hub) bool { _, _, ok := hub.LeanCounts(h); return ok }

func write(t *testing.T, nc net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(nc, s); err != nil {
		t.Fatal(err)
	}
}

// readJob reads a reply that must be a submitted job.
func readJob(t *testing.T, br *bufio.Reader, id string) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var j structs.Job
	if resp.StatusCode/100 != 2 || json.Unmarshal(body, &j) != nil || j.ID != id {
		t.Fatalf("submit %s: %s %s", id, resp.Status, body)
	}
	if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("Date") == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("submit %s: headers %v", id, resp.Header)
	}
	return resp
}

// expectEOF waits until the replica closes nc.
func expectEOF(t *testing.T, nc net.Conn, br *bufio.Reader) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := br.ReadByte()
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open: read %q, %v", b, err)
	}
}

func TestLeanPipelinedSubmissions(t *testing.T) { overListeners(t, testLeanPipelinedSubmissions) }

func testLeanPipelinedSubmissions(t *testing.T, overTLS bool) {
	lh := newLeanHub(t, overTLS, nil)
	nc, br := lh.dial(t)
	served0, off0 := lh.counts()
	write(t, nc, lh.submission("pipe-0")+lh.submission("pipe-1")+lh.submission("pipe-2"))
	for i := range 3 {
		readJob(t, br, fmt.Sprintf("pipe-%d", i))
	}
	// A body split across reads, then a request asking to close.
	req := lh.submission("split", "Connection: close")
	cut := len(req) - 20
	write(t, nc, req[:cut])
	write(t, nc, req[cut:])
	if resp := readJob(t, br, "split"); !resp.Close {
		t.Errorf("Connection: close not echoed: %v", resp.Header)
	}
	expectEOF(t, nc, br)
	if served, off := lh.counts(); leanOn(lh.h) && (served-served0 != 4 || off != off0) {
		t.Errorf("lean path served %d, handed off %d; want 4, 0", served-served0, off-off0)
	}
}

func TestLeanMalformedRequests(t *testing.T) { overListeners(t, testLeanMalformedRequests) }

func testLeanMalformedRequests(t *testing.T, overTLS bool) {
	lh := newLeanHub(t, overTLS, nil)
	body := func(id string) string { b, _ := json.Marshal(lh.f.job(id)); return string(b) }
	auth := "Authorization: Bearer " + lh.f.Key + "\r\n"
	head := "POST /v1/jobs HTTP/1.1\r\nHost: h\r\n" + auth
	// The lean parser's stricter rules (net/http reads these requests
	// leniently: they are checked with the lean path on).
	strict := map[string]bool{"obs-fold": true, "bare LF": true, "duplicate length": true, "length and chunks": true}
	cases := map[string]string{
		"obs-fold":           head + "X-A: a\r\n b\r\nContent-Length: %d\r\n\r\n%s",
		"bare LF":            "POST /v1/jobs HTTP/1.1\r\nHost: h\n" + auth + "Content-Length: %d\r\n\r\n%s",
		"duplicate length":   head + "Content-Length: %[1]d\r\nContent-Length: %[1]d\r\n\r\n%[2]s",
		"length list":        head + "Content-Length: %[1]d, %[1]d\r\n\r\n%[2]s",
		"length and chunks":  head + "Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s",
		"space before colon": head + "Transfer-Encoding : chunked\r\nContent-Length: %d\r\n\r\n%s",
		"signed length":      head + "Content-Length: +%d\r\n\r\n%s",
		"no host":            "POST /v1/jobs HTTP/1.1\r\n" + auth + "Content-Length: %d\r\n\r\n%s",
		"two hosts":          head + "Host: i\r\nContent-Length: %d\r\n\r\n%s",
		"control character":  head + "X-A: a\x01b\r\nContent-Length: %d\r\n\r\n%s",
	}
	var ids []string
	for name, tmpl := range cases {
		if strict[name] && !leanOn(lh.h) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			id := "bad-" + strings.ReplaceAll(name, " ", "-")
			ids = append(ids, id)
			b := body(id)
			nc, br := lh.dial(t)
			write(t, nc, fmt.Sprintf(tmpl, len(b), b))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %s, want 400", resp.Status)
			}
			expectEOF(t, nc, br)
		})
	}
	cl := newClient(t, lh.c, lh.f.Key)
	for _, id := range ids {
		if _, err := cl.GetJob(ctxFor(t, 30*time.Second), id, true); !errors.Is(err, structs.ErrNotFound) {
			t.Errorf("%s: %v, want not found (a refused request changes nothing)", id, err)
		}
	}
}

func TestLeanHandsOffToNetHTTP(t *testing.T) { overListeners(t, testLeanHandsOffToNetHTTP) }

func testLeanHandsOffToNetHTTP(t *testing.T, overTLS bool) {
	lh := newLeanHub(t, overTLS, nil)
	t.Run("oversize head", func(t *testing.T) {
		nc, br := lh.dial(t)
		write(t, nc, lh.submission("small"))
		readJob(t, br, "small")
		write(t, nc, lh.submission("big", "X-Big: "+strings.Repeat("b", 128<<10)))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %s, want 431", resp.Status)
		}
	})
	t.Run("chunked body", func(t *testing.T) {
		nc, br := lh.dial(t)
		_, off0 := lh.counts()
		write(t, nc, lh.submission("before-chunks"))
		readJob(t, br, "before-chunks")
		b, _ := json.Marshal(lh.f.job("chunked"))
		write(t, nc, fmt.Sprintf("POST /v1/jobs HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", lh.f.Key, len(b), b))
		readJob(t, br, "chunked")
		write(t, nc, lh.submission("after-chunks")) // the connection stays with net/http
		readJob(t, br, "after-chunks")
		if _, off := lh.counts(); leanOn(lh.h) && off-off0 != 1 {
			t.Errorf("handed off %d connections, want 1", off-off0)
		}
	})
	t.Run("HTTP/1.0", func(t *testing.T) {
		nc, br := lh.dial(t)
		write(t, nc, strings.Replace(lh.submission("ten"), "HTTP/1.1", "HTTP/1.0", 1))
		readJob(t, br, "ten")
		expectEOF(t, nc, br)
	})
	t.Run("long-poll", func(t *testing.T) {
		nc, br := lh.dial(t)
		write(t, nc, lh.submission("poll-0"))
		readJob(t, br, "poll-0")
		get := func(q string) *http.Response {
			write(t, nc, fmt.Sprintf("GET /v1/jobs%s HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer %s\r\n\r\n", q, lh.f.Key))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
		resp := get("")
		_, _ = io.Copy(io.Discard, resp.Body)
		idx := resp.Header.Get("X-Flotilla-Index")
		if resp.StatusCode != http.StatusOK || idx == "" {
			t.Fatalf("list: %s, index %q", resp.Status, idx)
		}
		done := make(chan *http.Response, 1)
		go func() { done <- get("?index=" + idx + "&wait=50s") }()
		if _, err := newClient(t, lh.c, lh.f.Key).SubmitJob(ctxFor(t, 30*time.Second), lh.f.job("poll-1")); err != nil {
			t.Fatal(err)
		}
		resp = <-done
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"poll-1"`) {
			t.Fatalf("long-poll: %s %s", resp.Status, body)
		}
	})
	t.Run("event stream", func(t *testing.T) {
		nc, br := lh.dial(t)
		write(t, nc, lh.submission("stream-0"))
		readJob(t, br, "stream-0")
		write(t, nc, fmt.Sprintf("GET /v1/events HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", lh.c.AdminKey))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || err != nil || !strings.HasPrefix(line, ":") {
			t.Fatalf("stream: %s %v, first line %q, %v", resp.Status, resp.Header, line, err)
		}
	})
}

func TestLeanIdleTimeout(t *testing.T) { overListeners(t, testLeanIdleTimeout) }

func testLeanIdleTimeout(t *testing.T, overTLS bool) {
	lh := newLeanHub(t, overTLS, func(cfg *hub.Config) { cfg.HTTPIdleTimeout = 300 * time.Millisecond })
	nc, br := lh.dial(t)
	write(t, nc, lh.submission("idle"))
	readJob(t, br, "idle")
	expectEOF(t, nc, br)
}

func TestLeanShutdownMidRequest(t *testing.T) { overListeners(t, testLeanShutdownMidRequest) }

func testLeanShutdownMidRequest(t *testing.T, overTLS bool) {
	lh := newLeanHub(t, overTLS, nil)
	idle, idleBR := lh.dial(t)
	write(t, idle, lh.submission("idle-first"))
	readJob(t, idleBR, "idle-first")

	nc, br := lh.dial(t)
	req := lh.submission("mid-shutdown")
	write(t, nc, req[:len(req)-10])
	waitLean(t, "the request to be served", func() bool { return lh.metric(t, "flotilla_hub_api_requests_in_flight") == 1 })
	done := make(chan error, 1)
	go func() { done <- lh.h.Shutdown(ctxFor(t, 60*time.Second)) }()
	expectEOF(t, idle, idleBR) // the idle connection closes at once
	write(t, nc, req[len(req)-10:])
	if resp := readJob(t, br, "mid-shutdown"); !resp.Close {
		t.Errorf("reply during shutdown without Connection: close: %v", resp.Header)
	}
	expectEOF(t, nc, br)
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestLeanClientStopsReading: a client that pipelines requests and never
// reads the replies holds its connection only until the shutdown's
// deadline.
func TestLeanClientStopsReading(t *testing.T) { overListeners(t, testLeanClientStopsReading) }

func testLeanClientStopsReading(t *testing.T, overTLS bool) {
	lh := newLeanHub(t, overTLS, nil)
	nc := lh.dialWith(t, func(tc *net.TCPConn) { _ = tc.SetReadBuffer(1024) })
	one := "POST /v1/jobs HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer nobody\r\nContent-Length: 0\r\n\r\n"
	wrote := make(chan error, 1)
	go func() { _, err := io.WriteString(nc, strings.Repeat(one, 40000)); wrote <- err }()
	// Wait until the replica stops serving: its reply is blocked on the
	// full connection.
	var last float64
	same := 0
	waitLean(t, "the replica's replies to fill the connection", func() bool {
		served := lh.metric(t, `flotilla_hub_api_requests_total{code="401"`)
		if served == last && served > 0 {
			same++
		} else {
			same = 0
		}
		last = served
		return same > 20
	})
	t.Logf("served %.0f requests before the connection filled", last)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// The lean path waits for the blocked reply until the deadline, then
	// cuts it; net/http counts the connection idle and closes it at once.
	if err := lh.h.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown: %v", err)
	}
	<-wrote
	// The replica closed the connection: the client, reading again,
	// gets the replies the kernel still held, then the end (EOF, or a
	// reset). Writing is no proof either way: with the client's window
	// shut, the closed side's kernel keeps its unsent replies and FIN
	// (FIN-WAIT-1) and the client's writes wait on a zero window.
	_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the connection is still open: %v", err)
		}
	}
}

// metric sums the replica's series whose line starts with prefix.
func (lh *leanHub) metric(t *testing.T, prefix string) float64 {
	t.Helper()
	resp, err := lh.hc.Get(lh.c.URL(0) + hub.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, prefix) {
			var v float64
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				_, _ = fmt.Sscan(line[i+1:], &v)
			}
			sum += v
		}
	}
	return sum
}

// waitLean polls cond until it holds, failing the test after a minute.
func waitLean(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("waiting for %s: timed out", what)
		}
	}
}

// TestLeanBatchAndErrors: a batch submission and a refused submission
// (no credentials, a body that is not JSON) on one lean connection carry
// the API's own statuses and error bodies, and the connection is kept.
func TestLeanBatchAndErrors(t *testing.T) { overListeners(t, testLeanBatchAndErrors) }

func testLeanBatchAndErrors(t *testing.T, overTLS bool) {
	lh := newLeanHub(t, overTLS, nil)
	nc, br := lh.dial(t)
	served0, off0 := lh.counts()
	batch, _ := json.Marshal(structs.JobBatchRequest{Jobs: []structs.JobSubmitRequest{lh.f.job("b-0"), lh.f.job("b-1")}})
	write(t, nc, lh.raw("/v1/jobs/batch", lh.f.Key, string(batch))+lh.raw("/v1/jobs", "wrong", "{}")+lh.raw("/v1/jobs", lh.f.Key, "not json"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	var reply structs.JobBatchReply
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil || resp.StatusCode != http.StatusOK || len(reply.Jobs) != 2 ||
		reply.Jobs[0].Job == nil || reply.Jobs[1].Job == nil || reply.Jobs[1].Job.ID != "b-1" {
		t.Fatalf("batch: %s %+v %v", resp.Status, reply, err)
	}
	for _, want := range []int{http.StatusUnauthorized, http.StatusBadRequest} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		var body structs.ErrorBody
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != want || body.Error == "" {
			t.Errorf("status %s, body %+v, %v; want %d with an error body", resp.Status, body, err, want)
		}
	}
	if served, off := lh.counts(); leanOn(lh.h) && (served-served0 != 3 || off != off0) {
		t.Errorf("lean path served %d, handed off %d; want 3, 0", served-served0, off-off0)
	}
}
