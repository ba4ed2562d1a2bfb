package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// The lean round trip over TLS: an https:// replica reached without a
// proxy is called like a plain one, on connections of the lean pool whose
// TLS handshake the pool makes itself with the client's configuration
// (WithTLS: its CAs, client certificate and checks), offering only
// http/1.1 by ALPN, and resuming sessions from a cache of the client's.
// Watches and unkeyed calls keep net/http, which speaks HTTP/2 over TLS.

// leanHandshakeTimeout bounds a lean connection's TLS handshake (as
// http.DefaultTransport's TLSHandshakeTimeout).
const leanHandshakeTimeout = 10 * time.Second

// leanTLSConfig is the configuration of the lean connections to host (the
// URL's host name, without its port): base's, offering http/1.1 only and
// naming host unless base names a server.
func leanTLSConfig(base *tls.Config, host string, cache tls.ClientSessionCache) *tls.Config {
	cfg := &tls.Config{}
	if base != nil {
		cfg = base.Clone()
	}
	cfg.NextProtos = []string{"http/1.1"}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.ClientSessionCache == nil {
		cfg.ClientSessionCache = cache
	}
	return cfg
}

// handshake makes nc a TLS connection to t, within ctx and
// leanHandshakeTimeout; nc is closed when it fails.
func handshake(ctx context.Context, nc net.Conn, t *leanTarget) (net.Conn, error) {
	tc := tls.Client(nc, t.tls)
	hctx, cancel := context.WithTimeout(ctx, leanHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = nc.Close()
		return nil, plainReply(err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
		_ = tc.Close()
		return nil, fmt.Errorf("tls: the hub chose protocol %q, not http/1.1", p)
	}
	return tc, nil
}

// errPlainReply is net/http's error for an https:// URL whose server
// answered in plain HTTP; the lean round trip reports the same.
var errPlainReply = errors.New("http: server gave HTTP response to HTTPS client")

// plainReply turns a handshake that read an HTTP reply into errPlainReply,
// as net/http does; other errors are returned as they are.
func plainReply(err error) error {
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/" {
		return errPlainReply
	}
	return err
}
