package raftnode

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TLS is the mutual TLS of the raft transport: Server verifies the
// certificates of peers that dial in, Client presents this replica's and
// verifies the peer it dials (its ServerName is set per peer from the raft
// address).
type TLS struct {
	Server, Client *tls.Config
}

// handshakeTimeout bounds a raft TLS handshake.
const handshakeTimeout = 10 * time.Second

// tlsStream wraps a stream layer with mutual TLS. Accept returns a
// connection only once its handshake has completed, so a peer without a
// certificate the hub CA signed is dropped before raft reads a byte from
// it; handshakes run concurrently, so a slow or silent peer holds up no
// one else.
type tlsStream struct {
	inner  raft.StreamLayer
	tls    TLS
	logger hclog.Logger

	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newTLSStream(inner raft.StreamLayer, t TLS, logger hclog.Logger) *tlsStream {
	s := &tlsStream{inner: inner, tls: t, logger: logger, conns: make(chan net.Conn), closed: make(chan struct{})}
	go s.acceptLoop()
	return s
}

func (s *tlsStream) acceptLoop() {
	delay := 5 * time.Millisecond
	for {
		c, err := s.inner.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.logger.Warn("raft accept", "error", err)
			select {
			case <-s.closed:
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, time.Second)
			continue
		}
		delay = 5 * time.Millisecond
		go s.handshake(c)
	}
}

func (s *tlsStream) handshake(c net.Conn) {
	tc := tls.Server(c, s.tls.Server)
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		s.logger.Warn("refused a raft connection: TLS handshake failed", "remote", c.RemoteAddr().String(), "error", err)
		c.Close()
		return
	}
	select {
	case s.conns <- tc:
	case <-s.closed:
		tc.Close()
	}
}

// Accept implements net.Listener.
func (s *tlsStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (s *tlsStream) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		err = s.inner.Close()
	})
	return err
}

// Addr implements net.Listener.
func (s *tlsStream) Addr() net.Addr { return s.inner.Addr() }

// Dial implements raft.StreamLayer: the peer must present a certificate
// the hub CA signed for the host of its raft address.
func (s *tlsStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := s.inner.Dial(address, timeout)
	if err != nil {
		return nil, err
	}
	cfg := s.tls.Client.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(string(address))
		if err != nil {
			c.Close()
			return nil, err
		}
		cfg.ServerName = host
	}
	tc := tls.Client(c, cfg)
	if timeout <= 0 {
		timeout = handshakeTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

// tcpStream is the plain TCP stream layer under the TLS one.
type tcpStream struct {
	ln        net.Listener
	advertise net.Addr
}

func (t *tcpStream) Accept() (net.Conn, error) { return t.ln.Accept() }
func (t *tcpStream) Close() error              { return t.ln.Close() }
func (t *tcpStream) Addr() net.Addr {
	if t.advertise != nil {
		return t.advertise
	}
	return t.ln.Addr()
}

func (t *tcpStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.Dial("tcp", string(address))
}
