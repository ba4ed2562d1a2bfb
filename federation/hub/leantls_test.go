package hub_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// The lean path on a TLS listener (leantls.go), beside the lean tests that
// run over both listeners (leanserve_test.go). Each runs with the lean
// path on and off (hub.Config.NoLeanHTTP): net/http must answer the same.

var leanSwitch = []struct {
	name string
	off  bool
}{{"lean", false}, {"nethttp", true}}

func newLeanTLSHub(t *testing.T, off bool) *leanHub {
	t.Helper()
	return newLeanHub(t, true, func(cfg *hub.Config) { cfg.NoLeanHTTP = cfg.NoLeanHTTP || off })
}

// TestLeanTLSHTTP2GoesToNetHTTP: a connection whose ALPN chose h2 is
// net/http's HTTP/2 from its first frame: submissions and reads over it
// work, the lean path serves none of its requests.
func TestLeanTLSHTTP2GoesToNetHTTP(t *testing.T) {
	for _, m := range leanSwitch {
		t.Run(m.name, func(t *testing.T) {
			lh := newLeanTLSHub(t, m.off)
			served0, off0 := lh.counts()
			tc, err := lh.c.ClientTLS()
			if err != nil {
				t.Fatal(err)
			}
			var protos []int
			h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
			defer h2.CloseIdleConnections()
			cl, err := client.New([]string{lh.c.URL(0)}, lh.f.Key, client.WithHTTPClient(&http.Client{
				Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					resp, err := h2.Transport.RoundTrip(r)
					if err == nil {
						protos = append(protos, resp.ProtoMajor)
					}
					return resp, err
				})}))
			if err != nil {
				t.Fatal(err)
			}
			ctx := ctxFor(t, 60*time.Second)
			for i := range 3 {
				if _, err := cl.SubmitJob(ctx, lh.f.job(fmt.Sprintf("h2-%d", i))); err != nil {
					t.Fatal(err)
				}
			}
			if j, err := cl.GetJob(ctx, "h2-2", true); err != nil || j.ID != "h2-2" {
				t.Fatalf("GetJob over HTTP/2: %+v, %v", j, err)
			}
			if fmt.Sprint(protos) != "[2 2 2 2]" {
				t.Errorf("replies' protocols %v, want HTTP/2 for all four", protos)
			}
			if served, off := lh.counts(); leanOn(lh.h) && (served != served0 || off-off0 != 1) {
				t.Errorf("lean path served %d, handed off %d; want 0, 1", served-served0, off-off0)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestLeanTLSPlainHTTPRefused: a client speaking plain HTTP to the TLS
// listener gets net/http's own answer, byte for byte, and nothing is
// submitted.
func TestLeanTLSPlainHTTPRefused(t *testing.T) {
	replies := map[string]string{}
	for _, m := range leanSwitch {
		t.Run(m.name, func(t *testing.T) {
			lh := newLeanTLSHub(t, m.off)
			nc, err := net.Dial("tcp", lh.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
			write(t, nc, lh.submission("plain-"+m.name))
			// The replica closes the connection with the request unread:
			// the end may be a reset rather than EOF.
			got, err := io.ReadAll(nc)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the connection is still open: %v (read %q)", err, got)
			}
			replies[m.name] = string(got)
			if !strings.HasPrefix(string(got), "HTTP/1.0 400 Bad Request\r\n") {
				t.Errorf("reply %q, want a 400", got)
			}
			if _, err := newClient(t, lh.c, lh.f.Key).GetJob(ctxFor(t, 30*time.Second), "plain-"+m.name, true); !errors.Is(err, structs.ErrNotFound) {
				t.Errorf("the plain submission: %v, want not found", err)
			}
		})
	}
	if replies["lean"] != replies["nethttp"] {
		t.Errorf("lean path replied %q, net/http %q", replies["lean"], replies["nethttp"])
	}
}

// TestLeanTLSClientCertificates: the internal endpoints' check of a
// replica certificate holds on a connection the lean path served first
// and handed off: without a certificate the call is refused for want of
// one; with a replica certificate it passes that check (and fails the
// next, the internal secret, which the test does not have); with a
// certificate of another CA, as without one.
func TestLeanTLSClientCertificates(t *testing.T) {
	for _, m := range leanSwitch {
		t.Run(m.name, func(t *testing.T) {
			lh := newLeanTLSHub(t, m.off)
			ca, err := hubtls.LoadCA(filepath.Dir(lh.c.CAFile))
			if err != nil {
				t.Fatal(err)
			}
			other, err := hubtls.NewCA("another CA", time.Now(), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			certOf := func(ca *hubtls.CA) []tls.Certificate {
				is, err := ca.Issue("replica-x", []string{"127.0.0.1"}, time.Now(), time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				c, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
				if err != nil {
					t.Fatal(err)
				}
				return []tls.Certificate{c}
			}
			readIndex := "POST " + api.InternalReadIndexPath + " HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
			for name, tc := range map[string]struct {
				certs []tls.Certificate
				peer  bool // the replica certificate check passes
			}{
				"none":    {nil, false},
				"replica": {certOf(ca), true},
				// The server asks for certificates of its client CA: Go's
				// client sends none of another CA.
				"another CA's": {certOf(other), false},
			} {
				t.Run(name, func(t *testing.T) {
					saved := lh.tls
					lh.tls = lh.tls.Clone()
					lh.tls.Certificates = tc.certs
					defer func() { lh.tls = saved }()
					id := fmt.Sprintf("cert-%s-%s", m.name, strings.ReplaceAll(name, " ", "-"))
					nc, br := lh.dial(t)
					write(t, nc, lh.submission(id)+readIndex)
					readJob(t, br, id)
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					if refused := strings.Contains(string(body), "a replica certificate is required"); resp.StatusCode != http.StatusUnauthorized || refused == tc.peer {
						t.Errorf("internal call: %s %s, want 401, for want of a certificate: %v", resp.Status, body, !tc.peer)
					}
				})
			}
		})
	}
}
