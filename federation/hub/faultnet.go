package hub

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
)

// faultNet is the loopback network of a TestCluster: raft streams and
// replica-to-replica HTTP (forwarding) go through it, so Partition can cut
// both. Clients of the API are never cut.
type faultNet struct {
	mu    sync.Mutex
	ids   map[string]raftnode.ServerID // listen address (raft or HTTP) → replica
	side  map[raftnode.ServerID]bool   // true: on the cut-off side
	conns map[*faultConn]struct{}
}

func newFaultNet() *faultNet {
	return &faultNet{ids: map[string]raftnode.ServerID{}, side: map[raftnode.ServerID]bool{},
		conns: map[*faultConn]struct{}{}}
}

func (f *faultNet) register(addr string, id raftnode.ServerID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids[addr] = id
}

func (f *faultNet) blockedLocked(a, b raftnode.ServerID) bool { return f.side[a] != f.side[b] }

// cut separates ids from the others and closes connections across the cut.
func (f *faultNet) cut(ids ...raftnode.ServerID) {
	f.mu.Lock()
	f.side = map[raftnode.ServerID]bool{}
	for _, id := range ids {
		f.side[id] = true
	}
	var doomed []*faultConn
	for c := range f.conns {
		if f.blockedLocked(c.from, c.to) {
			doomed = append(doomed, c)
		}
	}
	f.mu.Unlock()
	for _, c := range doomed {
		_ = c.Close()
	}
}

func (f *faultNet) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.side = map[raftnode.ServerID]bool{}
}

// dial connects from replica self to addr unless the link is cut.
func (f *faultNet) dial(ctx context.Context, self raftnode.ServerID, addr string, timeout time.Duration) (net.Conn, error) {
	f.mu.Lock()
	to, known := f.ids[addr]
	blocked := known && f.blockedLocked(self, to)
	f.mu.Unlock()
	if blocked {
		return nil, fmt.Errorf("faultnet: link %s -> %s is cut", self, to)
	}
	d := net.Dialer{Timeout: timeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &faultConn{Conn: raw, net: f, from: self, to: to}
	f.mu.Lock()
	defer f.mu.Unlock()
	if known && f.blockedLocked(self, to) {
		_ = raw.Close()
		return nil, fmt.Errorf("faultnet: link %s -> %s is cut", self, to)
	}
	f.conns[c] = struct{}{}
	return c, nil
}

// transport is replica self's HTTP transport to the other replicas.
func (f *faultNet) transport(self raftnode.ServerID) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return f.dial(ctx, self, addr, 5*time.Second)
		},
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
}

// faultConn is a tracked connection between two replicas.
type faultConn struct {
	net.Conn
	net      *faultNet
	from, to raftnode.ServerID
}

func (c *faultConn) Close() error {
	c.net.mu.Lock()
	delete(c.net.conns, c)
	c.net.mu.Unlock()
	return c.Conn.Close()
}

// faultLayer is one replica's raftnode.StreamLayer on a faultNet.
type faultLayer struct {
	net  *faultNet
	self raftnode.ServerID
	ln   net.Listener
}

var _ raftnode.StreamLayer = (*faultLayer)(nil)

func (l *faultLayer) Accept() (net.Conn, error) { return l.ln.Accept() }
func (l *faultLayer) Close() error              { return l.ln.Close() }
func (l *faultLayer) Addr() net.Addr            { return l.ln.Addr() }

// Dial implements raftnode.StreamLayer.
func (l *faultLayer) Dial(address raftnode.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return l.net.dial(context.Background(), l.self, string(address), timeout)
}

// listen opens addr ("127.0.0.1:0" picks a port), retrying briefly while
// a just-closed port is still held.
func listen(addr string) (net.Listener, error) {
	var err error
	for range 100 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}
