package client

import (
	"io"
	"net/http"
	"testing"
)

func TestHandlerTransport(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(w http.ResponseWriter, r *http.Request)
		code  int
		body  string
	}{
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, http.StatusOK, ""},
		{"body only", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hi")) }, http.StatusOK, "hi"},
		{"first status wins", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Kind", "refusal")
			w.WriteHeader(http.StatusConflict)
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("no"))
		}, http.StatusConflict, "no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://in-process.invalid/v1/jobs", nil)
			resp, err := HandlerTransport(tc.serve).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || string(b) != tc.body || resp.ContentLength != int64(len(tc.body)) || resp.Request != req {
				t.Errorf("got %d %q (length %d), want %d %q", resp.StatusCode, b, resp.ContentLength, tc.code, tc.body)
			}
			if tc.code == http.StatusConflict && resp.Header.Get("X-Kind") != "refusal" {
				t.Errorf("headers lost: %v", resp.Header)
			}
		})
	}
}
