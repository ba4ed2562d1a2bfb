package client_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The two benchmarks below measure what net/http's client transport costs
// per round trip beyond one HTTP/1.1 exchange on a kept-alive connection
// (docs/performance.md, "the client, sixth round"): the same submission
// and reply against the same net/http server in this process, 64
// concurrent callers, through http.Client (the caller's goroutine handing
// the request to persistConn's write loop and taking the reply from its
// read loop) and as bare bytes written and read on the caller's own
// connection. cpu-ns/op is the process's CPU (both ends) per round trip:
// the server's share is the same in both, so the difference is the
// client's. The bare loop is a measuring stick, not a client: no TLS,
// redirects, proxies, timeouts or errors beyond failing the benchmark.

// processCPU is this process's user and system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var handoffBody = []byte(`{"id":"j-bench-123456","app":"solver","machine_type":"n1","nodes":1}`)

// handoffServer answers every request with a submission's reply and the
// headers the hub sets.
func handoffServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Header()["X-Flotilla-Leader"] = []string{"http://127.0.0.1:1"}
		w.Header()["X-Flotilla-Index"] = []string{"12345"}
		_, _ = w.Write(cannedReply)
	}))
}

// BenchmarkRoundTripNetHTTP: the round trip through http.Client.
func BenchmarkRoundTripNetHTTP(b *testing.B) {
	srv := handoffServer()
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, DisableCompression: true}}
	u := srv.URL + "/v1/jobs"
	b.SetParallelism(32)
	b.ReportAllocs()
	c0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest("POST", u, bytes.NewReader(handoffBody))
			if err != nil {
				b.Fatal(err)
			}
			req.Header["Content-Type"] = []string{"application/json"}
			req.Header["Authorization"] = []string{"Bearer flk_0123456789abcdef_0123456789abcdef0123456789abcdef"}
			req.Header["X-Request-Id"] = []string{"ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, resp.ContentLength)
			_, err = io.ReadFull(resp.Body, data)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatal(resp.Status, err)
			}
		}
	})
	b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkRoundTripBareHTTP1: the same bytes on the caller's own
// connection.
func BenchmarkRoundTripBareHTTP1(b *testing.B) {
	srv := handoffServer()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	b.SetParallelism(32)
	b.ReportAllocs()
	c0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		bw := bufio.NewWriter(conn)
		br := bufio.NewReader(conn)
		buf := make([]byte, 0, 1024)
		for pb.Next() {
			_, _ = bw.WriteString("POST /v1/jobs HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: ")
			_, _ = bw.WriteString(strconv.Itoa(len(handoffBody)))
			_, _ = bw.WriteString("\r\nAccept: application/json\r\nAuthorization: Bearer flk_0123456789abcdef_0123456789abcdef0123456789abcdef\r\nContent-Type: application/json\r\nX-Request-Id: ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n\r\n")
			_, _ = bw.Write(handoffBody)
			if err := bw.Flush(); err != nil {
				b.Fatal(err)
			}
			n := -1
			if status, err := br.ReadSlice('\n'); err != nil || !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
				b.Fatalf("status line %q, %v", status, err)
			}
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					b.Fatal(err)
				}
				if len(line) <= 2 {
					break
				}
				if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
					n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
				}
			}
			if n < 0 || n > cap(buf) {
				b.Fatalf("reply of %d bytes", n)
			}
			buf = buf[:n]
			if _, err := io.ReadFull(br, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/op")
}
