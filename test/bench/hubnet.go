package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// hubNet is how the hub table's replicas and clients talk HTTP (flags
// -hub-tls, -hub-http1, -hub-h2c, -hub-conns).
var hubNet struct {
	// tls serves the API over HTTPS and runs raft on mutual TLS, as
	// flotilla-hub does (hubtest.Options.TLS); the clients then speak
	// HTTP/2 (ALPN) unless http1.
	tls, http1 bool
	// h2c: without tls, the clients speak HTTP/2 in the clear (prior
	// knowledge), which the replicas accept beside HTTP/1.1.
	h2c bool
	// conns > 0: the clients share conns transports (client w uses
	// transport w % conns), so HTTP/2 multiplexes them on conns
	// connections; 0: one transport (and connection) per client.
	conns int
}

// clientHTTP returns the HTTP clients of `clients` bench clients of
// replicas whose certificates caFile's CA signed ("" for plain HTTP).
func clientHTTP(caFile string, clients int) ([]*http.Client, error) {
	var cfg *tls.Config
	if caFile != "" {
		var err error
		if cfg, err = hubtls.ClientFromCAFile(caFile); err != nil {
			return nil, fmt.Errorf("hub CA: %w", err)
		}
	}
	n := clients
	if hubNet.conns > 0 {
		n = min(hubNet.conns, clients)
	}
	shared := make([]*http.Client, n)
	for i := range shared {
		t := &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     90 * time.Second,
			Protocols:           new(http.Protocols),
			DisableCompression:  true, // as federation/client's own transport
		}
		t.Protocols.SetHTTP1(true)
		if cfg != nil {
			t.TLSClientConfig = cfg.Clone()
			t.Protocols.SetHTTP2(!hubNet.http1)
		} else if hubNet.h2c {
			t.Protocols.SetHTTP1(false)
			t.Protocols.SetUnencryptedHTTP2(true)
		}
		shared[i] = &http.Client{Transport: t}
	}
	out := make([]*http.Client, clients)
	for w := range out {
		out[w] = shared[w%n]
	}
	return out, nil
}

// closeIdle closes the idle connections of clients' transports.
func closeIdle(hcs []*http.Client) {
	for _, hc := range hcs {
		hc.CloseIdleConnections()
	}
}

// protocolName names the protocol the hub table's clients speak.
func protocolName(caFile string) string {
	switch {
	case caFile == "" && hubNet.h2c:
		return "HTTP/2, plain (h2c)"
	case caFile == "":
		return "HTTP/1.1, plain"
	case hubNet.http1:
		return "HTTP/1.1 over TLS"
	default:
		return "HTTP/2 over TLS"
	}
}
