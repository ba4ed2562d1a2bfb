package hub_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
)

// TestWatchesEndOnDrain opens a /v1/events stream (SSE), a /v1/events
// long poll, a job watch and an agent's assignment watch on a replica,
// each willing to wait minutes, then shuts the replica down gracefully
// (hubtest's Stop: a drain timeout of 10 s): every one of them ends within
// 3 s (the stream cleanly, the long polls with a 200 and what they have),
// and the shutdown takes far less than its drain timeout.
func TestWatchesEndOnDrain(t *testing.T) {
	const (
		drainTimeout = 10 * time.Second // hubtest.Cluster.Stop
		promptly     = 3 * time.Second
	)
	// The replica's listener tells when it read a long poll's request:
	// only then is the poll surely in its handler (a connection still in
	// the listen backlog, or accepted but not read from, is cut by a
	// graceful shutdown, as it should be).
	polled := make(chan struct{}, 16)
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) {
		cfg.Listener = &sniffer{Listener: cfg.Listener, mark: []byte("wait=5m"), seen: polled}
	}})
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
	for range polls {
		select {
		case <-polled:
		case r := <-replies:
			t.Fatalf("%s ended before the drain: %d, %v", r.name, r.status, r.err)
		case <-ctx.Done():
			t.Fatal("the replica did not read every long poll")
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

// sniffer is a listener whose connections report on seen every read that
// holds mark.
type sniffer struct {
	net.Listener
	mark []byte
	seen chan<- struct{}
}

func (l *sniffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffedConn{Conn: c, l: l}, nil
}

type sniffedConn struct {
	net.Conn
	l *sniffer
}

func (c *sniffedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && bytes.Contains(b[:n], c.l.mark) {
		select {
		case c.l.seen <- struct{}{}:
		default:
		}
	}
	return n, err
}
