package hub

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"time"
)

// leanConn is one connection on the lean path and what its requests reuse.
type leanConn struct {
	s      *leanServer
	nc     net.Conn
	br     *bufio.Reader
	ctx    context.Context // the connection's: server, local address
	remote string
	head   leanHead
	url    url.URL
	body   leanBody
	w      leanWriter
	req    http.Request // the template each request is copied from
	watch  leanWatch
}

func newLeanConn(s *leanServer, nc net.Conn) *leanConn {
	c := &leanConn{s: s, nc: nc, remote: nc.RemoteAddr().String()}
	c.watch.c = c
	c.br = bufio.NewReaderSize(&c.watch, leanBufSize)
	c.ctx = context.WithValue(s.baseCtx, http.LocalAddrContextKey, nc.LocalAddr())
	c.head.header = make(http.Header, 8)
	c.body.c = c
	c.w.c = c
	c.w.header = make(http.Header, 8)
	c.req = http.Request{Method: http.MethodPost, URL: &c.url, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: c.head.header, Body: &c.body, RemoteAddr: c.remote}
	return c
}

// serve reads and serves the connection's requests until it closes or is
// handed off.
func (c *leanConn) serve() {
	handedOff := false
	defer func() {
		if err := recover(); err != nil && err != http.ErrAbortHandler {
			const size = 64 << 10
			buf := make([]byte, size)
			buf = buf[:runtime.Stack(buf, false)]
			c.s.errLog.Printf("http: panic serving %v: %v\n%s", c.remote, err, buf)
		}
		c.s.forget(c)
		if !handedOff {
			_ = c.nc.Close()
		}
		c.watch.end() // after a panic: the watch of the request stops
	}()
	if tc, ok := c.nc.(*tls.Conn); ok {
		proto, ok := c.handshake(tc)
		if !ok {
			return
		}
		if proto == "h2" {
			handedOff = c.handOff() // HTTP/2: net/http's server, from the first frame
			return
		}
	}
	for {
		if c.br.Buffered() == 0 {
			if d := c.s.srv.IdleTimeout; d > 0 {
				_ = c.nc.SetReadDeadline(c.s.wall().Add(d))
			}
			if _, err := c.br.Peek(1); err != nil {
				return
			}
		}
		if !c.s.track(c, true) {
			return
		}
		t0 := c.s.wall()
		v, reason := c.readHead(t0)
		switch v {
		case leanHandOff:
			handedOff = c.handOff()
			return
		case leanBad:
			c.badRequest(reason)
			return
		case leanMore:
			return // the connection failed or timed out mid-head
		}
		if !c.serveOne(t0) {
			return
		}
		if !c.s.track(c, false) {
			return
		}
	}
}

// readHead reads the next request's head: leanServe with c.head filled
// (the head consumed from the buffer), leanHandOff with nothing consumed,
// leanBad, or leanMore when the connection failed.
func (c *leanConn) readHead(t0 time.Time) (leanVerdict, string) {
	deadline := false
	more := func(n int) bool {
		if n >= leanBufSize {
			return false
		}
		if !deadline {
			deadline = true
			if d := c.s.srv.ReadHeaderTimeout; d > 0 {
				_ = c.nc.SetReadDeadline(t0.Add(d))
			}
		}
		_, err := c.br.Peek(n + 1)
		return err == nil
	}
	var buf []byte
	for {
		buf, _ = c.br.Peek(c.br.Buffered())
		v, _ := leanRequestLine(buf)
		if v == leanServe {
			break
		}
		if v == leanHandOff {
			return leanHandOff, ""
		}
		if !more(len(buf)) {
			if len(buf) >= leanBufSize {
				return leanHandOff, ""
			}
			return leanMore, ""
		}
	}
	var end int
	for {
		var v leanVerdict
		if end, v = leanHeadEnd(buf); v == leanBad {
			return leanBad, "bare LF in the request head"
		} else if v == leanServe {
			break
		}
		if !more(len(buf)) {
			if len(buf) >= leanBufSize {
				return leanHandOff, ""
			}
			return leanMore, ""
		}
		buf, _ = c.br.Peek(c.br.Buffered())
	}
	clear(c.head.header)
	v, reason := parseLeanHead(string(buf[:end]), &c.head)
	if v != leanServe {
		return v, reason
	}
	_, _ = c.br.Discard(end)
	if deadline || int64(c.br.Buffered()) < c.head.contentLength {
		// Reads may follow: the whole request within ReadTimeout.
		if d := c.s.srv.ReadTimeout; d > 0 {
			_ = c.nc.SetReadDeadline(t0.Add(d))
		} else {
			_ = c.nc.SetReadDeadline(time.Time{})
		}
	}
	return leanServe, ""
}

// serveOne serves the request whose head c.head holds; false when the
// connection must close.
func (c *leanConn) serveOne(t0 time.Time) bool {
	h := &c.head
	c.url.Path, c.url.RawQuery = h.path, h.rawQuery
	c.body.n, c.body.err, c.body.closed = h.contentLength, nil, false
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel() // also after a panic
	r := c.req.WithContext(ctx)
	r.ContentLength, r.Host, r.RequestURI, r.Close = h.contentLength, h.host, h.target, h.close
	if h.contentLength == 0 {
		r.Body = http.NoBody
	}
	c.w.reset(r)
	c.watch.arm(cancel, h.contentLength == 0)
	c.s.srv.Handler.ServeHTTP(&c.w, r)
	gone := c.watch.end()
	cancel()
	c.s.served.Add(1)
	if gone {
		return false // the client went away: no one reads the reply
	}
	keep := !h.close && !c.s.shutdown.Load() && !headerHasClose(c.w.header)
	if c.body.n > 0 && c.body.err == nil {
		// net/http's rule: discard what the handler left unread, up to a
		// bound, before replying; beyond it the connection closes.
		if c.body.n > leanDiscardMax {
			keep = false
		} else if _, err := c.br.Discard(int(c.body.n)); err != nil {
			keep = false
		}
	} else if c.body.err != nil && !errors.Is(c.body.err, io.EOF) {
		keep = false
	}
	return c.w.finish(keep) && keep
}

// handOff gives the connection to net/http, its buffered bytes first;
// false when net/http no longer accepts (shutting down).
func (c *leanConn) handOff() bool {
	var buf []byte
	if n := c.br.Buffered(); n > 0 {
		b, _ := c.br.Peek(n)
		buf = append([]byte(nil), b...)
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	c.s.forget(c)
	c.s.handedOff.Add(1)
	return c.s.handoff.give(handedOffConn(c.nc, buf))
}

// badRequest answers a malformed request as net/http does, and the
// connection closes.
func (c *leanConn) badRequest(reason string) {
	const head = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: "
	_ = c.nc.SetWriteDeadline(c.s.wall().Add(time.Second))
	_, _ = c.nc.Write(append([]byte(head), reason...))
}

// leanBody is a request's body: its Content-Length's bytes of the
// connection's buffer.
type leanBody struct {
	c      *leanConn
	n      int64 // bytes left
	err    error
	closed bool
}

func (b *leanBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.c.br.Read(p)
	b.n -= int64(n)
	if b.n == 0 {
		b.c.watch.bodyRead()
	}
	if err == io.EOF && b.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && b.n == 0 {
		err = io.EOF
	}
	b.err = err
	return n, err
}

func (b *leanBody) Close() error {
	b.closed = true
	return nil
}

// headerHasClose reports a "Connection: close" a handler set.
func headerHasClose(h http.Header) bool {
	for _, v := range h["Connection"] {
		if v == "close" || v == "Close" {
			return true
		}
	}
	return false
}

// leanWatchAfter is how long a request runs before its connection is
// watched for the client going away.
const leanWatchAfter = 50 * time.Millisecond

// leanWatch notices a client that goes away while its request is served,
// and cancels the request's context, as net/http's background read does
// (a write then stops retrying for a caller that gave up). net/http reads
// in the background for every request; the lean path starts that read
// only for a request still running after leanWatchAfter, from a timer the
// connection reuses. It is also the connection's byte source: a byte the
// watch read (a pipelined request) is read first.
type leanWatch struct {
	c     *leanConn
	mu    sync.Mutex
	timer *time.Timer
	// state: 0 no request, 1 armed, 2 reading, 3 aborting the read.
	state    int
	bodyDone bool // the handler read the whole body (guarded by mu once armed)
	cancel   context.CancelFunc
	done     chan struct{} // closed when the watch read returns
	gone     bool          // the watch read failed: the client went away
	one      [1]byte
	pending  bool // one holds a byte read ahead
}

// Read is the connection's byte source for its bufio.Reader.
func (w *leanWatch) Read(p []byte) (int, error) {
	if w.pending && len(p) > 0 {
		w.pending = false
		p[0] = w.one[0]
		return 1, nil
	}
	return w.c.nc.Read(p)
}

// arm starts the request's timer.
func (w *leanWatch) arm(cancel context.CancelFunc, bodyDone bool) {
	w.mu.Lock()
	w.state, w.cancel, w.gone, w.bodyDone = 1, cancel, false, bodyDone
	if w.timer == nil {
		w.timer = time.AfterFunc(leanWatchAfter, w.fire)
	} else {
		w.timer.Reset(leanWatchAfter)
	}
	w.mu.Unlock()
}

// bodyRead records that the handler read the whole body: the connection
// may be read for what follows.
func (w *leanWatch) bodyRead() {
	w.mu.Lock()
	w.bodyDone = true
	w.mu.Unlock()
}

// fire runs when a request has run leanWatchAfter: once its body is read
// and nothing is buffered, it reads the connection until the client sends
// more (a pipelined request, kept for the next read) or goes away.
func (w *leanWatch) fire() {
	w.mu.Lock()
	if w.state != 1 {
		w.mu.Unlock()
		return
	}
	if !w.bodyDone {
		w.timer.Reset(leanWatchAfter)
		w.mu.Unlock()
		return
	}
	if w.c.br.Buffered() > 0 || w.pending {
		w.state = 0 // a pipelined request waits: the client is there
		w.mu.Unlock()
		return
	}
	// No deadline: the read ends when the client sends or goes away, or
	// when end aborts it.
	_ = w.c.nc.SetReadDeadline(time.Time{})
	w.state, w.done = 2, make(chan struct{})
	w.mu.Unlock()
	n, err := w.c.nc.Read(w.one[:])
	w.mu.Lock()
	if n == 1 {
		w.pending = true
	}
	if err != nil && w.state == 2 {
		w.gone = true
		w.cancel()
	}
	close(w.done)
	w.mu.Unlock()
}

// end stops the watch when the handler returned; true when the client
// went away meanwhile.
func (w *leanWatch) end() bool {
	w.mu.Lock()
	st := w.state
	w.state = 0
	if st == 2 {
		w.state = 3
		_ = w.c.nc.SetReadDeadline(time.Unix(1, 0)) // ends the watch read
		done := w.done
		w.mu.Unlock()
		<-done
		w.mu.Lock()
		w.state = 0
	} else if w.timer != nil {
		w.timer.Stop()
	}
	gone := w.gone
	w.mu.Unlock()
	return gone
}
