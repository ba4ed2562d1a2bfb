package client

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// What a call retries (docs/operations.md, "Client retries"): only what
// cannot have changed anything, or what may run twice harmlessly.
//
//   - No reply, and the request was never sent (the connection was
//     refused, or broke before the request went out): any call.
//   - No reply after the request went out (reset, closed, timed out):
//     only a call carrying an idempotency key (see request.keyed); the
//     hub may have acted on it.
//   - 429, after its Retry-After: any call (the hub did nothing).
//   - 503 or 421 with Retry-After: any call. The hub sends these only
//     when it did nothing (no leader yet, not the leader) and names when
//     to try again.
//   - 502, 504, and 503 without Retry-After (a proxy in front of a
//     replica: whether the hub acted is unknown): like no reply after
//     the request went out, only a keyed call.
//
// Every other reply is final: a 4xx is the caller's to fix, a 500 is the
// hub's answer.

// attempt is what one try of a call got.
type attempt struct {
	// status is the reply's status, 0 when none was received.
	status int
	// retryAfter: the reply carries a Retry-After header.
	retryAfter bool
	// wrote: the request was (at least partly) sent.
	wrote bool
}

// retryable says whether a call (keyed: it carries an idempotency key)
// may be tried again after a.
func retryable(keyed bool, a attempt) bool {
	switch a.status {
	case 0:
		return !a.wrote || keyed
	case http.StatusTooManyRequests:
		return true
	case http.StatusServiceUnavailable, http.StatusMisdirectedRequest:
		if a.retryAfter {
			return true
		}
		return keyed && a.status == http.StatusServiceUnavailable
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return keyed
	}
	return false
}

// keyedMethod: requests of these methods are idempotent by themselves
// (HTTP's definition, which the hub's API follows): their URL and body
// are their idempotency key.
func keyedMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// retryAfter is how long a 429 reply asks the caller to wait (Retry-After
// in seconds), 0 for other replies.
func retryAfter(h http.Header, err error) time.Duration {
	if StatusOf(err) != http.StatusTooManyRequests {
		return 0
	}
	secs, perr := strconv.Atoi(h.Get("Retry-After"))
	if perr != nil || secs < 1 {
		secs = 1
	}
	return time.Duration(secs) * time.Second
}

// errNotRetried marks the error of a call that was not retried because
// its request may have reached the hub and it carries no idempotency key.
var errNotRetried = errors.New("not retried: the request may have reached the hub and is not idempotent")
