package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The lean round trip (docs/performance.md, "the client's lean round
// trip"): for keyed calls (submissions, GET, PUT, DELETE) to a replica
// reached without a proxy, on the client's default transport, the
// caller's goroutine writes the HTTP/1.1 request on a kept-alive
// connection of the client's own pool and reads the reply itself,
// instead of handing both to net/http's per-connection read and write
// loops; over TLS (https://) on connections whose handshake chose
// http/1.1 (lean_tls.go). Proxies, a caller's http.Client and calls
// without an idempotency key keep net/http; so does a reply redirecting
// the call (the attempt is made again through net/http, which follows
// it).

// LeanEnv, set to "0", turns the lean round trip off in every client of
// the process (as WithoutLeanHTTP does for one).
const LeanEnv = "FLOTILLA_CLIENT_LEAN"

// WithoutLeanHTTP sends every call through net/http.
func WithoutLeanHTTP() Option { return func(c *Client) { c.noLean = true } }

const (
	leanIdlePerHost = 128
	leanIdleTimeout = 90 * time.Second
	leanUserAgent   = "Go-http-client/1.1"
)

// errHeaderTimeout is the reply's header wait running out, as net/http
// reports it: a net.Error timeout that matches context.DeadlineExceeded
// (the CLI tells the user it kept trying for --timeout).
var errHeaderTimeout error = headerTimeoutError{}

type headerTimeoutError struct{}

func (headerTimeoutError) Error() string        { return "net/http: timeout awaiting response headers" }
func (headerTimeoutError) Timeout() bool        { return true }
func (headerTimeoutError) Temporary() bool      { return true }
func (headerTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// errLeanRedirect: the reply redirects the call; net/http follows it.
var errLeanRedirect = errors.New("client: redirect")

// leanConn is one kept-alive connection and its buffers.
type leanConn struct {
	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	tp   textproto.Reader
	idle time.Time // when it went back to the pool
}

// leanPool holds the idle connections of every host.
type leanPool struct {
	mu      sync.Mutex
	idle    map[string][]*leanConn
	dialer  net.Dialer
	timeout time.Duration // the reply's header wait, as ResponseHeaderTimeout
}

// leanTarget is a replica the lean round trip may reach: its dial
// address, Host header and the base URL's path (a hub behind a path
// prefix, "" for none) that every request target starts with, and for an
// https:// URL its TLS configuration; nil for one it may not. key names
// its connections in the pool.
type leanTarget struct {
	addr, host, prefix, key string
	tls                     *tls.Config
}

// leanTargets returns, for each URL, its lean target or nil (a proxy from
// the environment); https:// URLs use tlsBase (the client's WithTLS,
// nil for the system's roots), resuming sessions from cache.
func leanTargets(urls []string, tlsBase *tls.Config, cache tls.ClientSessionCache) []*leanTarget {
	out := make([]*leanTarget, len(urls))
	for i, s := range urls {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			continue
		}
		if p, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err != nil || p != nil {
			continue
		}
		t := &leanTarget{host: u.Host, prefix: strings.TrimRight(u.EscapedPath(), "/")}
		port := u.Port()
		if port == "" {
			port = "80"
		}
		if u.Scheme == "https" {
			if u.Port() == "" {
				port = "443"
			}
			t.tls = leanTLSConfig(tlsBase, u.Hostname(), cache)
		}
		t.addr = net.JoinHostPort(u.Hostname(), port)
		t.key = u.Scheme + "://" + t.addr
		out[i] = t
	}
	return out
}

func leanOff() bool { return os.Getenv(LeanEnv) == "0" }

func (p *leanPool) get(key string) *leanConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.idle[key]
	for len(l) > 0 {
		lc := l[len(l)-1]
		l[len(l)-1] = nil
		l = l[:len(l)-1]
		if time.Since(lc.idle) < leanIdleTimeout {
			p.idle[key] = l
			return lc
		}
		lc.nc.Close()
	}
	p.idle[key] = l
	return nil
}

func (p *leanPool) put(key string, lc *leanConn) {
	lc.idle = time.Now()
	p.mu.Lock()
	if len(p.idle[key]) < leanIdlePerHost {
		p.idle[key] = append(p.idle[key], lc)
		lc = nil
	}
	p.mu.Unlock()
	if lc != nil {
		lc.nc.Close()
	}
}

func (p *leanPool) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, l := range p.idle {
		for _, lc := range l {
			lc.nc.Close()
		}
		delete(p.idle, addr)
	}
}

func (p *leanPool) dial(ctx context.Context, t *leanTarget) (*leanConn, error) {
	nc, err := p.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	if t.tls != nil {
		if nc, err = handshake(ctx, nc, t); err != nil {
			return nil, err
		}
	}
	lc := &leanConn{nc: nc, br: bufio.NewReaderSize(nc, 4096), bw: bufio.NewWriterSize(nc, 4096)}
	lc.tp.R = lc.br
	return lc, nil
}

// leanBodyError is a failure reading a reply's body (after its headers).
type leanBodyError struct{ err error }

func (e leanBodyError) Error() string { return e.err.Error() }
func (e leanBodyError) Unwrap() error { return e.err }

// leanReply is a reply read whole.
type leanReply struct {
	status int
	header http.Header
	data   []byte
}

// roundTrip performs one exchange. sent reports a failure after the
// request went out (the reply unknown); a failure on a pooled
// connection before any reply byte is retried once on a new one.
func (p *leanPool) roundTrip(ctx context.Context, t *leanTarget, method, target, auth, reqID string,
	body, buf []byte) (leanReply, error) {
	if err := ctx.Err(); err != nil {
		// As net/http: a call whose context ended sends nothing (its
		// AfterFunc would cut the connection only after the write may
		// have gone out, and the hub would act on a call its caller
		// saw fail).
		return leanReply{}, err
	}
	lc := p.get(t.key)
	if lc != nil {
		rep, err, fresh := p.exchange(ctx, lc, t, method, target, auth, reqID, body, buf)
		if !fresh || ctx.Err() != nil {
			return rep, err
		}
	}
	lc, err := p.dial(ctx, t)
	if err != nil {
		return leanReply{}, err
	}
	rep, err, _ := p.exchange(ctx, lc, t, method, target, auth, reqID, body, buf)
	return rep, err
}

// exchange writes the request on lc and reads its reply. stale reports
// a failure before any reply byte (the server closed the idle
// connection). lc goes back to the pool only after a whole reply.
func (p *leanPool) exchange(ctx context.Context, lc *leanConn, t *leanTarget, method, target, auth, reqID string,
	body, buf []byte) (rep leanReply, err error, stale bool) {
	var stop func() bool
	if ctx.Done() != nil {
		nc := lc.nc
		stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(pastDeadline) })
	}
	keep := false
	defer func() {
		if stop != nil && !stop() {
			keep = false // the deadline was set in the past
		}
		if keep {
			p.put(t.key, lc)
		} else {
			lc.nc.Close()
		}
		if err != nil && ctx.Err() != nil {
			err = ctx.Err()
		}
	}()
	writeLeanRequest(lc.bw, t.host, method, target, auth, reqID, body)
	if err = lc.bw.Flush(); err != nil {
		return rep, err, true
	}
	if p.timeout > 0 {
		setReadDeadline(ctx, lc.nc, time.Now().Add(p.timeout))
	}
	for {
		var none bool
		if rep.status, none, err = readStatus(lc.br); err != nil {
			ne, isNet := err.(net.Error)
			timeout := isNet && ne.Timeout()
			stale = none && !timeout && (isNet || err == io.EOF)
			if timeout && ctx.Err() == nil {
				err = errHeaderTimeout
			}
			return rep, err, stale
		}
		mh, herr := lc.tp.ReadMIMEHeader()
		if herr != nil {
			return rep, fmt.Errorf("malformed reply headers: %w", herr), false
		}
		if rep.status >= 100 && rep.status < 200 {
			if rep.status == http.StatusSwitchingProtocols {
				return rep, errors.New("unexpected 101 reply"), false
			}
			continue
		}
		rep.header = http.Header(mh)
		break
	}
	if p.timeout > 0 {
		setReadDeadline(ctx, lc.nc, time.Time{})
	}
	if rep.status/100 == 3 && rep.header.Get("Location") != "" {
		return rep, errLeanRedirect, false
	}
	if rep.data, err = readLeanBody(lc, method, rep, buf); err != nil {
		return rep, leanBodyError{err}, false
	}
	keep = !hasToken(rep.header["Connection"], "close")
	return rep, nil, false
}

// pastDeadline ends a connection's reads and writes at once.
var pastDeadline = time.Unix(1, 0)

// setReadDeadline sets nc's read deadline to t, unless ctx has ended: the
// past deadline ctx's end set (exchange's AfterFunc) stays, else a
// cancellation that came just before would be undone and the read it
// should end would wait on — for the reply's body, which has no deadline,
// as long as the server holds it (TestLeanCancelKeepsItsDeadline). A
// cancellation after the check sets its deadline after this one.
func setReadDeadline(ctx context.Context, nc net.Conn, t time.Time) {
	_ = nc.SetReadDeadline(t)
	if ctx.Err() != nil {
		_ = nc.SetDeadline(pastDeadline)
	}
}

// writeLeanRequest buffers the request with the headers net/http sends
// for it on the client's default transport.
func writeLeanRequest(w *bufio.Writer, host, method, target, auth, reqID string, body []byte) {
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(target)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\nUser-Agent: " + leanUserAgent + "\r\n")
	if body != nil || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		w.WriteString("Content-Length: ")
		var nb [20]byte
		w.Write(strconv.AppendInt(nb[:0], int64(len(body)), 10))
		w.WriteString("\r\n")
	}
	w.WriteString("Accept: application/json\r\n")
	if auth != "" {
		w.WriteString("Authorization: ")
		w.WriteString(auth)
		w.WriteString("\r\n")
	}
	if body != nil {
		w.WriteString("Content-Type: application/json\r\n")
	}
	if reqID != "" {
		w.WriteString("X-Request-Id: ")
		w.WriteString(reqID)
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
	w.Write(body)
}

// readStatus reads an HTTP/1.1 status line and returns its code; none
// reports a failure before any byte of it.
func readStatus(br *bufio.Reader) (code int, none bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return 0, false, errors.New("malformed reply: status line too long")
		}
		return 0, len(line) == 0, err
	}
	line = bytes.TrimRight(line, "\r\n")
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) || len(line) < 12 || (len(line) > 12 && line[12] != ' ') {
		return 0, false, fmt.Errorf("malformed reply status line %q", line)
	}
	code, err = strconv.Atoi(string(line[9:12]))
	if err != nil || code < 100 {
		return 0, false, fmt.Errorf("malformed reply status line %q", line)
	}
	return code, false, nil
}

// readLeanBody reads the reply's body whole, by its length or chunked,
// into buf when it fits.
func readLeanBody(lc *leanConn, method string, rep leanReply, buf []byte) ([]byte, error) {
	h := rep.header
	if te := h["Transfer-Encoding"]; len(te) > 0 {
		if len(te) != 1 || te[0] != "chunked" {
			return nil, fmt.Errorf("unsupported transfer encoding %q", te)
		}
		data, err := io.ReadAll(httputil.NewChunkedReader(lc.br))
		if err != nil {
			return nil, err
		}
		for { // the trailer, up to its empty line
			line, err := lc.br.ReadSlice('\n')
			if err != nil {
				return nil, err
			}
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				return data, nil
			}
		}
	}
	if method == http.MethodHead || rep.status == http.StatusNoContent || rep.status == http.StatusNotModified {
		return buf[:0], nil
	}
	cl := h["Content-Length"]
	if len(cl) != 1 {
		return nil, errors.New("reply without a length")
	}
	n, err := strconv.ParseInt(cl[0], 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("malformed reply length %q", cl[0])
	}
	if n > maxSizedReply {
		data, err := io.ReadAll(io.LimitReader(lc.br, n))
		if err == nil && int64(len(data)) < n {
			err = io.ErrUnexpectedEOF
		}
		return data, err
	}
	data := buf[:0]
	if int64(cap(buf)) < n {
		data = make([]byte, n)
	}
	data = data[:n]
	if _, err := io.ReadFull(lc.br, data); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return data, nil
}

// hasToken reports whether a comma-separated header holds tok.
func hasToken(vals []string, tok string) bool {
	for _, v := range vals {
		for _, f := range bytes.Split([]byte(v), []byte(",")) {
			if string(bytes.ToLower(bytes.TrimSpace(f))) == tok {
				return true
			}
		}
	}
	return false
}
