package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// initLean sets up the lean round trip for the client's replicas reached
// without a proxy, http:// and https:// (see lean.go, lean_tls.go).
func (c *Client) initLean() {
	c.leanTo = leanTargets(c.urls, c.tls, tls.NewLRUClientSessionCache(0))
	c.lean = &leanPool{idle: make(map[string][]*leanConn),
		dialer:  net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		timeout: c.retryTimeout}
	if c.auth != nil {
		req := &http.Request{Header: http.Header{}}
		c.auth(req)
		c.leanAuth = req.Header.Get("Authorization")
	}
}

// onceLean is once through the lean round trip; errLeanRedirect hands
// the attempt to net/http.
func (c *Client) onceLean(ctx context.Context, i uint32, r request, u, q string, body []byte) (http.Header, bool, error) {
	base := c.urls[i]
	target := c.leanTo[i].prefix + r.path
	if target == "" {
		target = "/"
	}
	target += q
	rb := getReplyBuf(r.raw != nil)
	rep, err := c.lean.roundTrip(ctx, c.leanTo[i], r.method, target, c.leanAuth, r.requestID, body, rb.buf())
	defer rb.release(rep.data)
	if err == errLeanRedirect {
		return nil, false, err
	}
	if err != nil {
		var be leanBodyError
		if errors.As(err, &be) {
			return c.cutReply(ctx, r, base, be.err)
		}
		// As net/http reports a failed request.
		op := r.method[:1] + strings.ToLower(r.method[1:])
		if badCert(err) { // as on net/http: a configuration error, not retried
			return nil, false, fmt.Errorf("client: %s %s: the hub's certificate is not trusted: %w", r.method, base, &url.Error{Op: op, URL: u, Err: err})
		}
		err = fmt.Errorf("client: %s %s: %w", r.method, base, &url.Error{Op: op, URL: u, Err: err})
		if ctx.Err() != nil {
			return nil, false, err
		}
		return nil, retryable(r.keyed, attempt{wrote: true}), err
	}
	return c.reply(r, rep.status, rep.header, rep.data)
}
