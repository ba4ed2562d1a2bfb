package hub

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"slices"
	"time"
)

// The lean path on a TLS listener (docs/architecture.md, "The API
// listener's lean path"). The lean server accepts the TCP connections and
// makes the TLS handshake itself, in the connection's goroutine, as
// net/http does: a connection whose ALPN chose h2 goes to net/http at
// once, untouched (its HTTP/2 server); one that chose http/1.1, or no
// protocol, is served by the lean loop exactly as on plain HTTP, every
// request carrying the connection's TLS state (client certificates
// included), and is handed off, its buffered plaintext first, as a
// connection whose TLS state net/http reads (tlsReplayConn).

// leanTLSConfig is the server configuration of a lean TLS listener: the
// http.Server's, offering the protocols the server speaks by ALPN (h2
// only when it serves HTTP/2; http/1.1 always), as ServeTLS would.
func leanTLSConfig(srv *http.Server) *tls.Config {
	cfg := srv.TLSConfig.Clone()
	h2 := srv.Protocols == nil || srv.Protocols.HTTP2()
	protos := make([]string, 0, 2)
	if h2 {
		protos = append(protos, "h2")
	}
	protos = append(protos, "http/1.1")
	for _, p := range cfg.NextProtos {
		if p != "h2" && p != "http/1.1" {
			protos = append(protos, p)
		}
	}
	cfg.NextProtos = protos
	return cfg
}

// handshake makes c's TLS handshake within the server's handshake bound
// (net/http's: the smallest of its positive read-header, read and write
// timeouts). A failure is logged as net/http logs it, and a client that
// spoke plain HTTP gets net/http's 400. It returns the negotiated
// protocol, ok false when the handshake failed.
func (c *leanConn) handshake(tc *tls.Conn) (proto string, ok bool) {
	d := handshakeTimeout(c.s.srv)
	if d > 0 {
		dl := c.s.wall().Add(d)
		_ = tc.SetReadDeadline(dl)
		_ = tc.SetWriteDeadline(dl)
	}
	if err := tc.HandshakeContext(c.ctx); err != nil {
		reason := err.Error()
		if re, ok := err.(tls.RecordHeaderError); ok && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			_ = re.Conn.Close()
			reason = "client sent an HTTP request to an HTTPS server"
		}
		c.s.errLog.Printf("http: TLS handshake error from %s: %v", c.remote, reason)
		return "", false
	}
	if d > 0 {
		_ = tc.SetReadDeadline(time.Time{})
		_ = tc.SetWriteDeadline(time.Time{})
	}
	st := tc.ConnectionState()
	c.req.TLS = &st
	return st.NegotiatedProtocol, true
}

// handshakeTimeout is net/http's bound on a TLS handshake.
func handshakeTimeout(srv *http.Server) time.Duration {
	var d time.Duration
	for _, v := range []time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout} {
		if v > 0 && (d == 0 || v < d) {
			d = v
		}
	}
	return d
}

// looksLikeHTTP: a TLS record header that is the start of a plain HTTP
// request.
func looksLikeHTTP(hdr [5]byte) bool {
	return slices.Contains([]string{"GET /", "HEAD ", "POST ", "PUT /", "OPTIO"}, string(hdr[:]))
}

// tlsReplayConn is a handed-off TLS connection (after the lean path read
// from it): its TLS state is what net/http gives the requests it serves
// (http.Request.TLS), through the ConnectionState method it looks for.
type tlsReplayConn struct {
	replayConn
	tc *tls.Conn
}

func (c *tlsReplayConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// handedOffConn is what net/http gets for c: the TLS connection itself
// when the lean path read nothing from it (HTTP/2), else the buffered
// bytes first.
func handedOffConn(nc net.Conn, buf []byte) net.Conn {
	tc, isTLS := nc.(*tls.Conn)
	switch {
	case isTLS && len(buf) == 0:
		return tc
	case isTLS:
		return &tlsReplayConn{replayConn: replayConn{Conn: nc, buf: buf}, tc: tc}
	default:
		return &replayConn{Conn: nc, buf: buf}
	}
}
