package client_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// The lean round trip over TLS (lean_tls.go), on and off as the other
// lean tests: on, keyed calls speak HTTP/1.1 on the lean pool's own TLS
// connections; off, net/http speaks HTTP/2 (ALPN).

// tlsPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate.
type tlsPKI struct {
	roots          *x509.CertPool
	server, client tls.Certificate
}

func newTLSPKI(t testing.TB) *tlsPKI {
	t.Helper()
	ca, err := hubtls.NewCA("test CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair := func(name string) tls.Certificate {
		is, err := ca.Issue(name, []string{"127.0.0.1"}, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	p := &tlsPKI{roots: x509.NewCertPool(), server: pair("server"), client: pair("agent-x")}
	p.roots.AddCert(ca.Cert)
	return p
}

// tlsServer is a counting server on TLS offering h2 and http/1.1, asking
// for client certificates of the PKI's CA when clientAuth.
type tlsServer struct {
	*httptest.Server
	conns atomic.Int64
	mu    sync.Mutex
	seen  []*http.Request // each request's protocol and TLS state
}

func newTLSServer(t testing.TB, p *tlsPKI, clientAuth tls.ClientAuthType, h http.HandlerFunc) *tlsServer {
	s := &tlsServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, &http.Request{ProtoMajor: r.ProtoMajor, TLS: r.TLS})
		s.mu.Unlock()
		h(w, r)
	}))
	s.EnableHTTP2 = true
	s.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: clientAuth, ClientCAs: p.roots}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *tlsServer) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.seen...)
}

// TestLeanTLSSpeaksHTTP1AndReuses: 20 submissions on one connection, over
// HTTP/1.1 on the lean path and HTTP/2 on net/http; the client's
// certificate (WithTLS) is presented either way.
func TestLeanTLSSpeaksHTTP1AndReuses(t *testing.T) {
	p := newTLSPKI(t)
	for _, m := range leanModes {
		t.Run(m.name, func(t *testing.T) {
			s := newTLSServer(t, p, tls.RequireAndVerifyClientCert, jobReply)
			cfg := &tls.Config{RootCAs: p.roots, Certificates: []tls.Certificate{p.client}}
			c := newLeanClient(t, s.URL, append([]client.Option{client.WithTLS(cfg)}, m.opts...)...)
			for range 20 {
				if j, err := c.SubmitJob(ctxFor(t, 10*time.Second), structs.JobSubmitRequest{App: "solver", MachineType: "n1", Nodes: 1}); err != nil || j.ID != "j-1" {
					t.Fatalf("SubmitJob = %+v, %v", j, err)
				}
			}
			want := 2
			if m.name == "lean" && os.Getenv(client.LeanEnv) != "0" {
				want = 1
			}
			for _, r := range s.requests() {
				if r.ProtoMajor != want || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "agent-x" {
					t.Fatalf("a request over HTTP/%d, TLS %+v; want HTTP/%d with the client's certificate", r.ProtoMajor, r.TLS, want)
				}
			}
			if n := s.conns.Load(); n != 1 {
				t.Errorf("%d connections for 20 calls, want 1", n)
			}
			if cfg.ClientSessionCache != nil {
				t.Error("the lean path set the caller's configuration's session cache")
			}
		})
	}
}

// TestLeanTLSResumesSessions: a pooled connection the server closed is
// redialled (the call retried once on it) and its handshake resumes the
// first one's session (with FLOTILLA_CLIENT_LEAN=0, net/http's transport
// resumes none).
func TestLeanTLSResumesSessions(t *testing.T) {
	p := newTLSPKI(t)
	s := newTLSServer(t, p, tls.NoClientCert, jobReply)
	c := newLeanClient(t, s.URL, client.WithTLS(&tls.Config{RootCAs: p.roots}))
	for i := range 3 {
		if _, err := c.SubmitJob(ctxFor(t, 10*time.Second), structs.JobSubmitRequest{ID: "j-1", App: "a", MachineType: "n1", Nodes: 1}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		s.CloseClientConnections()
	}
	reqs := s.requests()
	if len(reqs) != 3 || s.conns.Load() != 3 {
		t.Fatalf("%d requests on %d connections, want 3 on 3", len(reqs), s.conns.Load())
	}
	lean := os.Getenv(client.LeanEnv) != "0" // net/http's transport keeps no sessions unless told
	if reqs[0].TLS.DidResume || reqs[1].TLS.DidResume != lean || reqs[2].TLS.DidResume != lean {
		t.Errorf("sessions resumed: %v %v %v, want false true true", reqs[0].TLS.DidResume, reqs[1].TLS.DidResume, reqs[2].TLS.DidResume)
	}
}

// TestLeanTLSUntrustedHub: a hub whose certificate the client does not
// trust gets no request, and the call fails at once with the reason (not
// retried until its budget or context ends).
func TestLeanTLSUntrustedHub(t *testing.T) {
	p := newTLSPKI(t)
	for _, m := range leanModes {
		t.Run(m.name, func(t *testing.T) {
			s := newTLSServer(t, p, tls.NoClientCert, jobReply)
			s.Config.ErrorLog = nil
			c := newLeanClient(t, s.URL, append([]client.Option{client.WithRetryTimeout(time.Hour)}, m.opts...)...)
			ctx := ctxFor(t, time.Minute)
			_, err := c.SubmitJob(ctx, structs.JobSubmitRequest{App: "a", MachineType: "n1", Nodes: 1})
			var ce *tls.CertificateVerificationError
			if !errors.As(err, &ce) || ctx.Err() != nil {
				t.Fatalf("SubmitJob to an untrusted hub: %v (context: %v), want a certificate error", err, ctx.Err())
			}
			if n := len(s.requests()); n != 0 {
				t.Errorf("the hub got %d requests", n)
			}
		})
	}
}

// TestLeanTLSFailuresAsNetHTTP: the lean path reports a failed TLS call
// in the shape net/http gives it, so callers (the CLI's "cannot reach
// the hub" with its exit code) read both alike: an untrusted certificate
// inside a *url.Error, and an https:// URL whose server answers in plain
// HTTP as "server gave HTTP response to HTTPS client".
func TestLeanTLSFailuresAsNetHTTP(t *testing.T) {
	p := newTLSPKI(t)
	untrusted := newTLSServer(t, p, tls.NoClientCert, jobReply)
	untrusted.Config.ErrorLog = nil
	plain := httptest.NewServer(http.HandlerFunc(jobReply))
	t.Cleanup(plain.Close)
	for _, m := range leanModes {
		t.Run(m.name, func(t *testing.T) {
			c := newLeanClient(t, untrusted.URL, append([]client.Option{client.WithRetryTimeout(time.Hour)}, m.opts...)...)
			_, err := c.SubmitJob(ctxFor(t, time.Minute), structs.JobSubmitRequest{App: "a", MachineType: "n1", Nodes: 1})
			var ue *url.Error
			var ce *tls.CertificateVerificationError
			if !errors.As(err, &ue) || !errors.As(err, &ce) {
				t.Errorf("untrusted hub: %v, want a *url.Error around the certificate error", err)
			}
			c = newLeanClient(t, "https://"+strings.TrimPrefix(plain.URL, "http://"), append([]client.Option{client.WithRetryTimeout(300 * time.Millisecond)}, m.opts...)...)
			_, err = c.SubmitJob(ctxFor(t, time.Minute), structs.JobSubmitRequest{App: "a", MachineType: "n1", Nodes: 1})
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
				t.Errorf("https:// to a plain hub: %v, want net/http's error in a *url.Error", err)
			}
		})
	}
}

// benchSubmitTLS: benchSubmitClient's calls over TLS, on the lean path
// (HTTP/1.1) or net/http (HTTP/2).
func benchSubmitTLS(b *testing.B, opts ...client.Option) {
	p := newTLSPKI(b)
	s := newTLSServer(b, p, tls.NoClientCert, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Header()["X-Flotilla-Leader"] = []string{"https://127.0.0.1:1"}
		w.Header()["X-Flotilla-Index"] = []string{"12345"}
		_, _ = w.Write(cannedReply)
	})
	s.Config.ConnState = nil
	c, err := client.New([]string{s.URL}, "flk_0123456789abcdef_0123456789abcdef0123456789abcdef",
		append([]client.Option{client.WithTLS(&tls.Config{RootCAs: p.roots})}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseIdleConnections()
	runSubmitBench(b, c)
}

func BenchmarkSubmitClientLeanTLS(b *testing.B)    { benchSubmitTLS(b) }
func BenchmarkSubmitClientNetHTTPTLS(b *testing.B) { benchSubmitTLS(b, client.WithoutLeanHTTP()) }
