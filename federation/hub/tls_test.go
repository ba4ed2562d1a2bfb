package hub_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
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

// h2cClient is an HTTP client that speaks only HTTP/2 with prior
// knowledge to http:// URLs.
func h2cClient() *http.Client {
	t := &http.Transport{Protocols: new(http.Protocols)}
	t.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: t}
}

// TestUnencryptedHTTP2: a plain-HTTP replica with Config.UnencryptedHTTP2
// serves HTTP/2 with prior knowledge — submissions and a watch that waits
// for one — beside HTTP/1.1; without it (the default) an h2c client is
// refused and HTTP/1.1 serves as before.
func TestUnencryptedHTTP2(t *testing.T) {
	for name, on := range map[string]bool{"on": true, "off": false} {
		t.Run(name, func(t *testing.T) {
			c := hubtest.New(t, 1, hubtest.Options{Configure: func(_ int, cfg *hub.Config) { cfg.UnencryptedHTTP2 = on }})
			f := seed(t, c)
			ctx := ctxFor(t, 60*time.Second)
			h2, h1 := h2cClient(), &http.Client{Transport: &http.Transport{}}
			defer h2.CloseIdleConnections()
			defer h1.CloseIdleConnections()
			if resp, err := h1.Get(c.URL(0) + "/healthz"); err != nil || resp.ProtoMajor != 1 || resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP/1.1 GET /healthz: %v %v", resp, err)
			} else {
				resp.Body.Close()
			}
			resp, err := h2.Get(c.URL(0) + "/healthz")
			if !on {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("h2c GET /healthz without UnencryptedHTTP2: %s %s, want a refusal", resp.Proto, resp.Status)
				}
				return
			}
			if err != nil || resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
				t.Fatalf("h2c GET /healthz: %v %v", resp, err)
			}
			resp.Body.Close()
			user, err := client.New(c.URLs(), f.Key, client.WithHTTPClient(h2))
			if err != nil {
				t.Fatal(err)
			}
			first, err := user.SubmitJob(ctx, f.job("h2c-1"))
			if err != nil {
				t.Fatalf("submit over h2c: %v", err)
			}
			// A watch from the first job's index, on the same connection
			// as the submission that ends it.
			watched := make(chan error, 1)
			go func() {
				l, err := user.WatchJobs(ctx, client.JobQuery{}, first.ModifyIndex, 30*time.Second)
				if err == nil && len(l.Jobs) != 2 {
					err = fmt.Errorf("watch returned %d jobs, want 2", len(l.Jobs))
				}
				watched <- err
			}()
			if _, err := user.SubmitJob(ctx, f.job("h2c-2")); err != nil {
				t.Fatalf("second submit over h2c: %v", err)
			}
			if err := <-watched; err != nil {
				t.Fatalf("watch over h2c: %v", err)
			}
		})
	}
}
