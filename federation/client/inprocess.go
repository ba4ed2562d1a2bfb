package client

import (
	"bytes"
	"io"
	"net/http"
)

// HandlerTransport is a RoundTripper that serves every request with a
// handler of the same process and returns its reply, buffered whole: a
// Client over it talks to a replica's API without a socket (the portal,
// the catalog sync and the Cluster API reconciler, each as an identity it
// has already authenticated).
type HandlerTransport func(w http.ResponseWriter, r *http.Request)

// RoundTrip serves r and returns the handler's reply.
func (serve HandlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := &bufferedReply{header: http.Header{}}
	serve(rec, r)
	rec.WriteHeader(http.StatusOK) // a handler that wrote nothing answered 200
	return &http.Response{StatusCode: rec.code, Status: http.StatusText(rec.code), Header: rec.header,
		Body: io.NopCloser(&rec.body), ContentLength: int64(rec.body.Len()), Request: r,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
}

// bufferedReply is HandlerTransport's response writer: the first status
// written wins, as on a connection.
type bufferedReply struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedReply) Header() http.Header { return b.header }

func (b *bufferedReply) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedReply) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}
