package raftnode_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
)

// stallNet is raft's TCP stream layers for a few nodes, where a test can
// hold one node's connections still for a while, as a process that the
// machine does not run looks to its peers and as its peers look to it:
// nothing it writes leaves and nothing it reads arrives until the stall
// ends; then everything flows again, nothing lost.
type stallNet struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// stall holds node id's connections still for d from now.
func (s *stallNet) stall(id string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.until[id] = time.Now().Add(d)
}

// hold waits while node id is stalled.
func (s *stallNet) hold(id string) {
	for {
		s.mu.Lock()
		left := time.Until(s.until[id])
		s.mu.Unlock()
		if left <= 0 {
			return
		}
		<-time.After(left)
	}
}

type stallLayer struct {
	net  *stallNet
	self string
	ln   net.Listener
}

func (l *stallLayer) Accept() (net.Conn, error) {
	c, err := l.ln.Accept()
	if err != nil {
		return nil, err
	}
	return &stallConn{Conn: c, net: l.net, self: l.self}, nil
}

func (l *stallLayer) Close() error   { return l.ln.Close() }
func (l *stallLayer) Addr() net.Addr { return l.ln.Addr() }

func (l *stallLayer) Dial(addr raftnode.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	return &stallConn{Conn: c, net: l.net, self: l.self}, nil
}

// stallConn is one of node self's ends of a connection.
type stallConn struct {
	net.Conn
	net  *stallNet
	self string
}

func (c *stallConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.net.hold(c.self)
	return n, err
}

func (c *stallConn) Write(p []byte) (int, error) {
	c.net.hold(c.self)
	return c.Conn.Write(p)
}

// startStallCluster starts three bootstrapped nodes on a stallNet with the
// given heartbeat timeout (the election timeout the same) and lease (0:
// the default) and returns them with the net.
func startStallCluster(t *testing.T, heartbeat, lease time.Duration) ([]*raftnode.Node, *stallNet) {
	t.Helper()
	sn := &stallNet{until: map[string]time.Time{}}
	layers := make([]*stallLayer, 3)
	peers := make([]raftnode.Server, 3)
	for i := range layers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("s%d", i)
		layers[i] = &stallLayer{net: sn, self: id, ln: ln}
		peers[i] = raftnode.Server{Suffrage: raftnode.Voter, ID: raftnode.ServerID(id), Address: raftnode.ServerAddress(ln.Addr().String())}
	}
	nodes := make([]*raftnode.Node, 3)
	for i := range nodes {
		cfg := raftnode.Config{ID: peers[i].ID, DataDir: t.TempDir(), BootstrapPeers: peers, StreamLayer: layers[i],
			HeartbeatTimeout: heartbeat, ElectionTimeout: heartbeat, LeaderLeaseTimeout: lease,
			CommitTimeout: 20 * time.Millisecond}
		n, err := raftnode.New(cfg, newKV(), nil)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
		t.Cleanup(func() { _ = n.Shutdown() })
	}
	return nodes, sn
}

// leaderOf waits for one of nodes to lead and returns its index.
func leaderOf(t *testing.T, nodes []*raftnode.Node) int {
	t.Helper()
	l := -1
	waitFor(t, 60*time.Second, "a leader", func() bool {
		for i, n := range nodes {
			if n.IsLeader() {
				l = i
				return true
			}
		}
		return false
	})
	return l
}

// TestLeaderKeepsLeadThroughShortStall: a leader whose process stalls
// for less than the heartbeat timeout (its peers hear nothing from it and
// it hears nothing from them for 65 % of it) keeps leading with the
// default lease, which is the heartbeat timeout: no follower stood for
// election, and no leader change happens — no step-down, no new
// leadership, the same term, and the next write commits through the same
// leader. With hashicorp/raft's own default, a lease of half the
// heartbeat timeout, the same stall deposes the leader (the case the hub
// met under load: docs/performance.md, "Leader changes under load").
func TestLeaderKeepsLeadThroughShortStall(t *testing.T) {
	const heartbeat = 4 * time.Second
	const stall = heartbeat * 65 / 100
	tests := map[string]struct {
		lease        time.Duration
		wantStepDown bool
	}{
		"default lease (the heartbeat timeout)": {lease: 0, wantStepDown: false},
		"raft's lease (half the heartbeat)":     {lease: heartbeat / 2, wantStepDown: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			nodes, sn := startStallCluster(t, heartbeat, tc.lease)
			l := leaderOf(t, nodes)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, _, err := nodes[l].Apply(ctx, []byte("before=1")); err != nil {
				t.Fatalf("write before the stall: %v", err)
			}
			before := make([]raftnode.Transitions, len(nodes))
			for i, n := range nodes {
				before[i] = n.Transitions()
			}
			term := nodes[l].Term()

			sn.stall(string(nodes[l].ID()), stall)
			if tc.wantStepDown {
				waitFor(t, 30*time.Second, "the stalled leader to step down", func() bool {
					return nodes[l].Transitions().StepDowns > before[l].StepDowns
				})
				return
			}
			sn.hold(string(nodes[l].ID())) // the stall is over
			if _, _, err := nodes[l].Apply(ctx, []byte("after=1")); err != nil {
				t.Fatalf("write after the stall through the same leader: %v", err)
			}
			for i, n := range nodes {
				if got := n.Transitions(); got != before[i] {
					t.Errorf("%s: transitions %+v after the stall, want %+v (no election, no step-down)", n.ID(), got, before[i])
				}
			}
			if got := nodes[l].Term(); got != term || !nodes[l].IsLeader() {
				t.Errorf("after the stall: term %d (was %d), %s leads: %v", got, term, nodes[l].ID(), nodes[l].IsLeader())
			}
		})
	}
}
