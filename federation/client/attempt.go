package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"
)

// The retry loop's small parts (see Client.do and Client.once).

// sleep waits d unless ctx ends first (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// giveUp is the error of a call that stops retrying after err; lastReply
// is the last error the hub replied with, more telling than a transport
// failure or a deadline. (A function, not a closure of do: that cost two
// allocations a call.)
func giveUp(method, path string, lastReply, err error) error {
	if lastReply != nil {
		err = lastReply
	}
	return fmt.Errorf("client: %s %s: giving up: %w", method, path, err)
}

// sentTrace tells whether a request began to be written (see retryable):
// its flag and the trace that sets it in one allocation.
type sentTrace struct {
	wrote atomic.Bool
	trace httptrace.ClientTrace
}

// wasSent reports whether the request began to be written; without a
// trace (a keyed call) it says so, the case in which retryable does not
// ask.
func (s *sentTrace) wasSent() bool { return s == nil || s.wrote.Load() }

func (s *sentTrace) headerField(string, []string)       { s.wrote.Store(true) }
func (s *sentTrace) request(httptrace.WroteRequestInfo) { s.wrote.Store(true) }

// badCert reports whether err is the refusal of the hub's certificate.
func badCert(err error) bool {
	var e *tls.CertificateVerificationError
	return errors.As(err, &e)
}

// queryWait is the wait= of a watch's query, 0 for other calls.
func queryWait(q url.Values) time.Duration {
	v := q.Get("wait")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0
	}
	return d
}
