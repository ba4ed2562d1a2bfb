package hub_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
)

// TestTLSClusterServesHTTP2AndForwards runs three replicas as flotilla-hub
// runs them with certificates (HTTPS API offering HTTP/2, raft and the
// replicas' calls to each other on mutual TLS): a client of the Go client
// package speaks HTTP/2 to them, and a submission to a follower reaches
// the leader through its forwarding over TLS.
func TestTLSClusterServesHTTP2AndForwards(t *testing.T) {
	c := hubtest.New(t, 3, hubtest.Options{TLS: true})
	f := seed(t, c)
	ctx := ctxFor(t, 60*time.Second)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	follower := (leader + 1) % c.N()

	tc, err := c.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(c.URL(follower) + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Fatalf("GET /healthz over TLS: %s %s, want 200 over HTTP/2", resp.Proto, resp.Status)
	}

	// The client stays on the follower: the follower forwards.
	user := spreadClient(t, c, f.Key, follower)
	j, err := user.SubmitJob(ctx, f.job("tls-forwarded"))
	if err != nil {
		t.Fatalf("submit through follower %d over TLS: %v", follower, err)
	}
	if j.ID != "tls-forwarded" {
		t.Fatalf("submitted job %q, want tls-forwarded", j.ID)
	}
	got, err := c.Hub(leader).Store().Read().Job("tls-forwarded")
	if err != nil || got == nil {
		t.Fatalf("the leader does not store the forwarded job: %v", err)
	}
}
