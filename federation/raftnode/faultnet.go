package raftnode

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// faultNet is a loopback TCP network for the test cluster whose links can be
// cut. Every node gets a faultLayer (a raft.StreamLayer); every connection a
// layer dials is tracked with the ids of both ends. Raft connections are
// always dialled by one node to another node's listener, and the reply
// travels back on the same connection, so controlling dials and closing the
// tracked connections controls traffic both ways.
type faultNet struct {
	mu    sync.Mutex
	ids   map[raft.ServerAddress]raft.ServerID
	side  map[raft.ServerID]bool // true: on the cut-off side
	conns map[*faultConn]struct{}
}

func newFaultNet() *faultNet {
	return &faultNet{
		ids:   map[raft.ServerAddress]raft.ServerID{},
		side:  map[raft.ServerID]bool{},
		conns: map[*faultConn]struct{}{},
	}
}

// listen opens a layer for node id on addr ("127.0.0.1:0" picks a port).
func (f *faultNet) listen(id raft.ServerID, addr string) (*faultLayer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.ids[raft.ServerAddress(ln.Addr().String())] = id
	f.mu.Unlock()
	return &faultLayer{net: f, self: id, ln: ln}, nil
}

// cut separates the given nodes from all others: links between the two
// sides are refused and existing connections across them are closed. Nodes
// on the same side still talk. It replaces any earlier cut.
func (f *faultNet) cut(ids ...raft.ServerID) {
	f.mu.Lock()
	f.side = map[raft.ServerID]bool{}
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

// heal removes the cut.
func (f *faultNet) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.side = map[raft.ServerID]bool{}
}

func (f *faultNet) blockedLocked(a, b raft.ServerID) bool { return f.side[a] != f.side[b] }

// faultLayer is one node's raft.StreamLayer on a faultNet.
type faultLayer struct {
	net  *faultNet
	self raft.ServerID
	ln   net.Listener
}

var _ raft.StreamLayer = (*faultLayer)(nil)

func (l *faultLayer) Accept() (net.Conn, error) { return l.ln.Accept() }
func (l *faultLayer) Close() error              { return l.ln.Close() }
func (l *faultLayer) Addr() net.Addr            { return l.ln.Addr() }

// Dial connects to address unless the link from this node is cut.
func (l *faultLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	f := l.net
	f.mu.Lock()
	to := f.ids[address]
	blocked := f.blockedLocked(l.self, to)
	f.mu.Unlock()
	if blocked {
		return nil, fmt.Errorf("faultnet: link %s -> %s is cut", l.self, to)
	}
	raw, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	c := &faultConn{Conn: raw, net: f, from: l.self, to: to}
	f.mu.Lock()
	if f.blockedLocked(l.self, to) { // cut while dialling
		f.mu.Unlock()
		_ = raw.Close()
		return nil, fmt.Errorf("faultnet: link %s -> %s is cut", l.self, to)
	}
	f.conns[c] = struct{}{}
	f.mu.Unlock()
	return c, nil
}

// faultConn is a tracked connection from one node to another.
type faultConn struct {
	net.Conn
	net      *faultNet
	from, to raft.ServerID
}

func (c *faultConn) Close() error {
	c.net.mu.Lock()
	delete(c.net.conns, c)
	c.net.mu.Unlock()
	return c.Conn.Close()
}
