package hub

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/internal/hubtls"
	"github.com/google/go-cmp/cmp"
)

// FuzzLeanHead checks the lean parser against net/http's: every head the
// lean path would serve, net/http reads too, with the same target, host,
// length, close flag and header fields.
func FuzzLeanHead(f *testing.F) {
	for _, s := range []string{
		"POST /v1/jobs HTTP/1.1\r\nHost: h:8080\r\nContent-Length: 12\r\nAuthorization: Bearer k\r\n\r\n",
		"POST /v1/jobs/batch?x=1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\nX-A: a\r\nx-a:  b \r\n\r\n",
		"POST /jarvice/submit HTTP/1.1\r\nHost: [::1]:80\r\nContent-Type: application/x-www-form-urlencoded\r\ncontent-length: 0\r\n\r\n",
		"POST /v1/jobs HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n",
		"POST /v1/jobs HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"POST /v1/jobs HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST /v1/jobs HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, _ := leanRequestLine(data)
		if v != leanServe {
			return
		}
		end, v := leanHeadEnd(data)
		if v != leanServe {
			return
		}
		h := leanHead{header: http.Header{}}
		if v, _ := parseLeanHead(string(data[:end]), &h); v != leanServe {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data[:end])))
		if err != nil {
			t.Fatalf("lean serves %q, net/http refuses it: %v", data[:end], err)
		}
		got := []any{req.Method, req.URL.Path, req.URL.RawQuery, req.RequestURI, req.Host, req.ContentLength, req.Close, req.Header}
		want := []any{http.MethodPost, h.path, h.rawQuery, h.target, h.host, h.contentLength, h.close, h.header}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%q: lean (-) and net/http (+) differ:\n%s", data[:end], diff)
		}
	})
}

// TestLeanHandlerPanic: a handler's panic is logged with its stack and
// closes the connection, as net/http does; the server goes on serving.
func TestLeanHandlerPanic(t *testing.T) {
	var logs syncBuffer
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ErrorLog: log.New(&logs, "", 0), IdleTimeout: time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.RawQuery == "panic" {
				panic("boom")
			}
			body, _ := io.ReadAll(r.Body)
			_, _ = w.Write(body)
		})}
	s := newLeanServer(ln, srv, time.Now)
	done := make(chan error, 1)
	go func() { done <- s.serve() }()
	t.Cleanup(func() {
		s.closeAll()
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("serve: %v", err)
		}
	})
	req := func(q, body string) string {
		return "POST /v1/jobs" + q + " HTTP/1.1\r\nHost: h\r\nContent-Length: " + string(rune('0'+len(body))) + "\r\n\r\n" + body
	}
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(nc, req("?panic", "")); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(nc); err != nil || len(b) != 0 {
		t.Fatalf("after a panic: read %q, %v; want the connection closed without a reply", b, err)
	}
	if !strings.Contains(logs.String(), "http: panic serving") || !strings.Contains(logs.String(), "boom") ||
		!strings.Contains(logs.String(), "goroutine ") {
		t.Errorf("panic not logged with its stack: %q", logs.String())
	}
	nc2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	_ = nc2.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(nc2, req("", "hello")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc2), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "hello" || resp.ContentLength != 5 {
		t.Errorf("after a panic elsewhere: %s %q", resp.Status, body)
	}
	if s.served.Load() != 1 {
		t.Errorf("served %d, want 1 (a panic serves nothing)", s.served.Load())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// BenchmarkServeLean and BenchmarkServeNetHTTP: one connection's
// sequential submissions-shaped requests (a 300-byte body read by the
// handler, a small JSON reply with two headers) through the lean path
// and through net/http's server; the client's side (a raw write and
// http.ReadResponse) is the same in both. allocs/op and B/op are the
// process's, both ends. The TLS pair: the same over TLS 1.3, the client
// offering http/1.1 by ALPN (leantls.go; net/http's ServeTLS).
func BenchmarkServeLean(b *testing.B)       { benchServe(b, true, false) }
func BenchmarkServeNetHTTP(b *testing.B)    { benchServe(b, false, false) }
func BenchmarkServeLeanTLS(b *testing.B)    { benchServe(b, true, true) }
func BenchmarkServeNetHTTPTLS(b *testing.B) { benchServe(b, false, true) }

// benchTLS is a server configuration for 127.0.0.1 and a client one
// trusting it, offering http/1.1.
func benchTLS(b *testing.B) (server, client *tls.Config) {
	ca, err := hubtls.NewCA("bench CA", time.Now(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	is, err := ca.Issue("replica", []string{"127.0.0.1"}, time.Now(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	cert, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		&tls.Config{RootCAs: roots, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}}
}

func benchServe(b *testing.B, lean, overTLS bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	reply := []byte(`{"id":"j","number":1,"state":"queued"}`)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			h := w.Header()
			h["Content-Type"] = []string{"application/json"}
			h["X-Request-Id"] = r.Header["X-Request-Id"]
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(reply)
		})}
	var clientTLS *tls.Config
	if overTLS {
		srv.TLSConfig, clientTLS = benchTLS(b)
	}
	done := make(chan error, 1)
	var s *leanServer
	switch {
	case lean:
		s = newLeanServer(ln, srv, time.Now)
		go func() { done <- s.serve() }()
	case overTLS:
		go func() { done <- srv.ServeTLS(ln, "", "") }()
	default:
		go func() { done <- srv.Serve(ln) }()
	}
	defer func() {
		if lean {
			s.closeAll()
		} else {
			_ = srv.Close()
		}
		<-done
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	if overTLS {
		nc = tls.Client(nc, clientTLS)
	}
	body := strings.Repeat("x", 300)
	req := []byte("POST /v1/jobs HTTP/1.1\r\nHost: h\r\nUser-Agent: Go-http-client/1.1\r\nAuthorization: Bearer 0123456789abcdef\r\n" +
		"Content-Type: application/json\r\nX-Request-Id: r1\r\nContent-Length: 300\r\n\r\n" + body)
	br := bufio.NewReader(nc)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for range b.N {
		if _, err := nc.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusCreated {
			b.Fatal(resp.Status)
		}
	}
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/1000/float64(b.N), "cpu-µs/op")
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
