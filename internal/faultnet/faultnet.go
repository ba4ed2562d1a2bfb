// Package faultnet is a loopback TCP network for in-process clusters in
// tests, whose links between nodes can be cut. The raft test cluster
// (federation/raftnode/rafttest) and the hub test cluster
// (federation/hub/hubtest) run their replicas on it.
//
// Every listen address is registered with the id of the node that owns
// it. Every connection a node dials through the network — raft streams
// (Layer) and HTTP between replicas (Transport) — is tracked with the ids
// of both ends. Connections are always dialled by one node to another
// node's listener, and replies travel back on the same connection, so
// refusing dials across a cut and closing the tracked connections that
// cross it controls traffic both ways. Addresses no node registered (a
// test's own clients, outside servers) are never cut.
package faultnet

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/internal/loopport"
)

// Net is one fault-injecting loopback network. Its methods are safe for
// concurrent use.
type Net struct {
	mu    sync.Mutex
	ids   map[string]string // listen address → node id
	side  map[string]bool   // node id → true: on the cut-off side
	conns map[*conn]struct{}
}

// New returns a network without cuts.
func New() *Net {
	return &Net{ids: map[string]string{}, side: map[string]bool{}, conns: map[*conn]struct{}{}}
}

// Register records that addr, a listen address, belongs to node id.
func (f *Net) Register(addr, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids[addr] = id
}

// Listen opens a TCP listener on addr ("127.0.0.1:0" picks a port) and
// registers it for node id. It retries for up to two seconds while a
// just-closed port is still held (a node restarting on its old address).
func (f *Net) Listen(id, addr string) (net.Listener, error) {
	ln, err := Listen(addr)
	if err != nil {
		return nil, err
	}
	f.Register(ln.Addr().String(), id)
	return ln, nil
}

// Listen opens a TCP listener on addr, retrying for up to two seconds
// while a just-closed port is still held. A port of 0 on 127.0.0.1 is
// picked by internal/loopport: outside the kernel's ephemeral range and
// reserved for this process, so a node restarted on its old address
// finds it free.
func Listen(addr string) (net.Listener, error) {
	if addr == "127.0.0.1:0" {
		return loopport.Listen()
	}
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

// Cut separates the given nodes from all others: dials between the two
// sides are refused and connections across them are closed. Nodes on the
// same side still talk. It replaces any earlier cut.
func (f *Net) Cut(ids ...string) {
	f.mu.Lock()
	f.side = map[string]bool{}
	for _, id := range ids {
		f.side[id] = true
	}
	var doomed []*conn
	for c := range f.conns {
		if f.blockedLocked(c.from, c.to, c.known) {
			doomed = append(doomed, c)
		}
	}
	f.mu.Unlock()
	for _, c := range doomed {
		_ = c.Close()
	}
}

// Heal removes the cut.
func (f *Net) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.side = map[string]bool{}
}

func (f *Net) blockedLocked(from, to string, known bool) bool {
	return known && f.side[from] != f.side[to]
}

// Dial connects node from to addr unless the link is cut.
func (f *Net) Dial(ctx context.Context, from, addr string, timeout time.Duration) (net.Conn, error) {
	f.mu.Lock()
	to, known := f.ids[addr]
	blocked := f.blockedLocked(from, to, known)
	f.mu.Unlock()
	if blocked {
		return nil, fmt.Errorf("faultnet: link %s -> %s is cut", from, to)
	}
	d := net.Dialer{Timeout: timeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &conn{Conn: raw, net: f, from: from, to: to, known: known}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.blockedLocked(from, to, known) { // cut while dialling
		_ = raw.Close()
		return nil, fmt.Errorf("faultnet: link %s -> %s is cut", from, to)
	}
	f.conns[c] = struct{}{}
	return c, nil
}

// Transport is node from's HTTP transport to the other nodes (a hub
// replica's forwarding transport).
func (f *Net) Transport(from string) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return f.Dial(ctx, from, addr, 5*time.Second)
		},
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
}

// Layer is node self's raft stream layer on listener ln, which should
// come from Listen (so that other nodes' dials to it can be cut).
func (f *Net) Layer(self string, ln net.Listener) *Layer {
	return &Layer{net: f, self: self, ln: ln}
}

// conn is a tracked connection from one node to another.
type conn struct {
	net.Conn
	net      *Net
	from, to string
	known    bool // to is a registered node
}

func (c *conn) Close() error {
	c.net.mu.Lock()
	delete(c.net.conns, c)
	c.net.mu.Unlock()
	return c.Conn.Close()
}

// Layer is one node's raftnode.StreamLayer on a Net.
type Layer struct {
	net  *Net
	self string
	ln   net.Listener
}

var _ raftnode.StreamLayer = (*Layer)(nil)

// Accept waits for the next inbound raft connection.
func (l *Layer) Accept() (net.Conn, error) { return l.ln.Accept() }

// Close closes the listener.
func (l *Layer) Close() error { return l.ln.Close() }

// Addr is the listener's address.
func (l *Layer) Addr() net.Addr { return l.ln.Addr() }

// Dial connects to another node's raft address unless the link is cut.
func (l *Layer) Dial(address raftnode.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return l.net.Dial(context.Background(), l.self, string(address), timeout)
}
