package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The lean server path (docs/architecture.md, "The API listener's lean
// path"). On the API listener (plain HTTP, or HTTP/1.1 over TLS after the
// handshake: leantls.go), one goroutine per connection reads
// HTTP/1.1 requests itself and serves the submissions (leanRoutes) by
// calling the replica's handler — metrics, portal wrapper, API: the same
// code net/http calls — with a request and a response writer of its own,
// reused across the connection's requests, and writes each reply in one
// write. The first request it does not serve (another route or method, a
// chunked or Expect body, an upgrade, HTTP/1.0 or HTTP/2's preface, a head
// larger than its buffer) hands the connection, its buffered bytes first,
// to the replica's http.Server through handoffListener; it stays there.

// LeanEnv, set to "0", turns the lean server path off in every replica of
// the process (as Config.NoLeanHTTP does for one).
const LeanEnv = "FLOTILLA_HUB_LEAN"

const (
	// leanBufSize is the read buffer of a lean connection: a head that
	// does not fit is handed to net/http (which applies MaxHeaderBytes).
	leanBufSize = 4 << 10
	// leanDiscardMax is how much of a body a handler left unread is
	// discarded to keep the connection (net/http's figure); beyond it the
	// connection closes after the reply.
	leanDiscardMax = 256 << 10
	// leanReplyTimeout bounds writing a reply whose handler set no write
	// deadline of its own (the API sets one per request).
	leanReplyTimeout = time.Minute
)

func leanOff() bool { return os.Getenv(LeanEnv) == "0" }

// leanServer accepts the API listener's connections and serves them.
type leanServer struct {
	ln      net.Listener
	srv     *http.Server // the handler, timeouts and error log; serves handed-off connections
	tls     *tls.Config  // nil on a plain-HTTP listener (leantls.go)
	handoff *handoffListener
	wall    func() time.Time
	baseCtx context.Context
	errLog  *log.Logger

	mu       sync.Mutex
	conns    map[*leanConn]bool // true while serving a request
	shutdown atomic.Bool
	idleDone chan struct{} // closed when the last connection ends after shutdown began
	date     atomic.Pointer[leanDate]
	// served counts the requests the lean path served, handedOff the
	// connections it gave to net/http.
	served, handedOff atomic.Uint64
}

// leanDate is the Date header value of one second.
type leanDate struct {
	sec int64
	b   []byte
}

func newLeanServer(ln net.Listener, srv *http.Server, wall func() time.Time) *leanServer {
	s := &leanServer{ln: ln, srv: srv, wall: wall, conns: make(map[*leanConn]bool), idleDone: make(chan struct{}),
		handoff: &handoffListener{conns: make(chan net.Conn), done: make(chan struct{}), addr: ln.Addr()}}
	s.baseCtx = context.WithValue(context.Background(), http.ServerContextKey, srv)
	if srv.TLSConfig != nil {
		s.tls = leanTLSConfig(srv)
	}
	s.errLog = srv.ErrorLog
	if s.errLog == nil {
		s.errLog = log.New(os.Stderr, "", log.LstdFlags)
	}
	return s
}

// serve accepts connections until the listener closes: http.ErrServerClosed
// after shutdown, the listener's error otherwise.
func (s *leanServer) serve() error {
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporaryAccept(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.errLog.Printf("http: Accept error: %v; retrying in %v", err, backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if s.tls != nil {
			nc = tls.Server(nc, s.tls) // the handshake runs in the connection's goroutine
		}
		c := newLeanConn(s, nc)
		if !s.track(c, false) {
			_ = nc.Close()
			return http.ErrServerClosed
		}
		go c.serve()
	}
}

// isTemporaryAccept: accept errors net/http retries (out of descriptors,
// a connection reset before it was accepted).
func isTemporaryAccept(err error) bool {
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

// track records c's state (serving a request or idle); false once shutdown
// began, and c must close.
func (s *leanServer) track(c *leanConn, active bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() {
		return false
	}
	s.conns[c] = active
	return true
}

// forget drops c (closed or handed off).
func (s *leanServer) forget(c *leanConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if len(s.conns) == 0 && s.shutdown.Load() {
		close(s.idleDone)
	}
}

// beginShutdown stops accepting, closes idle connections and makes every
// connection close after the request it serves.
func (s *leanServer) beginShutdown() {
	s.mu.Lock()
	if s.shutdown.Swap(true) {
		s.mu.Unlock()
		return
	}
	for c, active := range s.conns {
		if !active {
			_ = c.nc.Close()
		}
	}
	if len(s.conns) == 0 {
		close(s.idleDone)
	}
	s.mu.Unlock()
	_ = s.ln.Close()
	_ = s.handoff.Close()
}

// wait waits until every lean connection has ended; when ctx ends first
// it closes them (their requests are cut) and returns ctx's error.
func (s *leanServer) wait(ctx context.Context) error {
	select {
	case <-s.idleDone:
		return nil
	case <-ctx.Done():
		s.closeAll()
		return ctx.Err()
	}
}

// closeAll stops accepting and closes every lean connection at once.
func (s *leanServer) closeAll() {
	s.beginShutdown()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.nc.Close()
	}
	s.mu.Unlock()
}

// dateHeader is the current Date header value (made once a second).
func (s *leanServer) dateHeader() []byte {
	now := s.wall()
	if d := s.date.Load(); d != nil && d.sec == now.Unix() {
		return d.b
	}
	d := &leanDate{sec: now.Unix(), b: now.UTC().AppendFormat(nil, http.TimeFormat)}
	s.date.Store(d)
	return d.b
}

// handoffListener is the listener the replica's http.Server serves: its
// Accept returns the connections the lean path handed over.
type handoffListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	addr  net.Addr
}

// give hands c over; false when the listener is closed.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// replayConn is a handed-off connection: the bytes the lean path buffered
// are read first, then the connection's.
type replayConn struct {
	net.Conn
	buf []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes a TCP connection (net/http uses it before closing
// a connection whose reply it cut short).
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
