package client_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// cannedReply is a submission's reply as the hub writes it.
var cannedReply = []byte(`{"id":"j-1","number":1,"name":"solver-1","tenant":"bench","owner":"bench","app":"solver",` +
	`"command":"Run","machine_type":"n1","nodes":1,"state":"QUEUED","submit_time":"2026-12-06T12:00:00Z",` +
	`"create_index":11,"modify_index":11}` + "\n")

// cannedHub is a transport that answers every request with cannedReply
// from one reused response, without allocating: what a call allocates
// through it is the client's own work (and net/http.Client's). It records
// whether the last request's context carried a client trace.
type cannedHub struct {
	mu      sync.Mutex
	body    bytes.Reader
	resp    http.Response
	sink    [512]byte
	traced  bool
	read    int
	reqBody []byte
}

// cannedClient is a client whose only transport is a new canned hub.
func cannedClient(tb testing.TB) (*cannedHub, *client.Client) {
	h := newCannedHub()
	c, err := client.New([]string{"http://hub.invalid:8080"}, "flk_0123456789abcdef_0123456789abcdef0123456789abcdef",
		client.WithHTTPClient(&http.Client{Transport: h}))
	if err != nil {
		tb.Fatal(err)
	}
	return h, c
}

func newCannedHub() *cannedHub {
	h := &cannedHub{}
	h.resp = http.Response{StatusCode: http.StatusOK, ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		ContentLength: int64(len(cannedReply)), Body: io.NopCloser(&h.body)}
	return h
}

func (h *cannedHub) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.traced = httptrace.ContextClientTrace(req.Context()) != nil
	h.read = 0
	if req.Body != nil {
		for {
			n, err := req.Body.Read(h.sink[h.read:])
			h.read += n
			if err != nil || h.read == len(h.sink) {
				break
			}
		}
		req.Body.Close()
		h.reqBody = append(h.reqBody[:0], h.sink[:h.read]...)
	}
	h.body.Reset(cannedReply)
	h.resp.Request = req
	return &h.resp, nil
}

// TestSubmitJobCallAllocations bounds what the client allocates for one
// submission besides the transport (request building, body, retry
// bookkeeping, reply reading and decoding): the figure the client's side
// of the hub table grows with.
func TestSubmitJobCallAllocations(t *testing.T) {
	h, c := cannedClient(t)
	ctx := context.Background()
	req := structs.JobSubmitRequest{ID: "j-alloc-1", App: "solver", MachineType: "n1", Nodes: 1}
	j, err := c.SubmitJob(ctx, req)
	if err != nil || j.ID != "j-1" || j.Number != 1 {
		t.Fatalf("SubmitJob = %+v, %v", j, err)
	}
	if want := `{"id":"j-alloc-1","app":"solver","machine_type":"n1","nodes":1}`; string(h.reqBody) != want {
		t.Errorf("request body %s, want %s", h.reqBody, want)
	}
	k := 0
	allocs := testing.AllocsPerRun(200, func() {
		k++
		req.ID = "j-alloc-" + strconv.Itoa(k%10)
		if _, err := c.SubmitJob(ctx, req); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.0f allocations per submission", allocs)
	if allocs > 20 {
		t.Errorf("%.0f allocations per submission, want at most %d", allocs, 20)
	}
}

// BenchmarkSubmitJobCall is one submission through the client with the
// canned transport: the client's per-call work alone.
func BenchmarkSubmitJobCall(b *testing.B) {
	_, c := cannedClient(b)
	ctx := context.Background()
	req := structs.JobSubmitRequest{ID: "j-bench", App: "solver", MachineType: "n1", Nodes: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.SubmitJob(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSentTraceOnlyForUnkeyedCalls: a call without an idempotency key
// carries the trace that tells whether its request went out (a failure
// after it did is not retried); a keyed call, retried either way, does
// not pay for one.
func TestSentTraceOnlyForUnkeyedCalls(t *testing.T) {
	h, c := cannedClient(t)
	ctx := context.Background()
	if _, err := c.SubmitJob(ctx, structs.JobSubmitRequest{App: "solver", MachineType: "n1", Nodes: 1}); err != nil {
		t.Fatal(err)
	}
	if h.traced {
		t.Errorf("a submission (keyed) carried a sent-request trace")
	}
	if _, err := c.GetJob(ctx, "j-1", false); err != nil {
		t.Fatal(err)
	}
	if h.traced {
		t.Errorf("a GET (keyed) carried a sent-request trace")
	}
	if _, err := c.JarviceSubmit(ctx, &structs.JarviceSubmit{}); err != nil {
		t.Fatal(err)
	}
	if !h.traced {
		t.Errorf("an unkeyed POST carried no sent-request trace")
	}
}

// TestDefaultTransportAsksNoCompression: the hub never compresses its
// replies, so the client's own transport does not ask for gzip (net/http
// adds Accept-Encoding to every request unless told not to); the reply
// reads the same.
func TestDefaultTransportAsksNoCompression(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.Header.Get("Accept-Encoding"))
		mu.Unlock()
		w.Header()["Content-Type"] = []string{"application/json"}
		_, _ = w.Write(cannedReply)
	}))
	defer srv.Close()
	c, err := client.New([]string{srv.URL}, "flk_0123456789abcdef_0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx := context.Background()
	j, err := c.SubmitJob(ctx, structs.JobSubmitRequest{App: "solver", MachineType: "n1", Nodes: 1})
	if err != nil || j.ID != "j-1" {
		t.Fatalf("SubmitJob = %+v, %v", j, err)
	}
	if j, err = c.GetJob(ctx, "j-1", false); err != nil || j.Number != 1 {
		t.Fatalf("GetJob = %+v, %v", j, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"POST ", "GET "}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("requests (method, Accept-Encoding) %q, want %q", got, want)
	}
}
