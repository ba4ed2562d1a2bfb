package raftnode

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestClusterOptions tunes NewTestCluster; the zero value is a sensible
// default (TestTiming, fsync on, the default log store — see
// Config.LogStore —, errors logged to the test).
type TestClusterOptions struct {
	// Configure, if set, adjusts every node's Config before it starts (e.g.
	// batch size, snapshot thresholds). It sees TestTiming already applied.
	Configure func(*Config)
	// NoSync turns off fsync (on the bolt log store, see Config.NoSync).
	NoSync bool
	// InMemory uses in-memory stores: faster, but Restart loses all state.
	InMemory bool
	// LogLevel is the level logged through t.Log; zero means hclog.Error.
	LogLevel hclog.Level
}

// TestCluster is an in-process raft cluster for tests: real TCP on loopback,
// real log stores in t.TempDir(), and a network whose links Partition can
// cut (see the package documentation). Its methods call t.Fatal on setup
// errors, so call them from the test goroutine.
type TestCluster struct {
	t      testing.TB
	newSM  func() StateMachine
	opts   TestClusterOptions
	net    *faultNet
	logger hclog.Logger
	dir    string

	mu      sync.Mutex
	members []*testMember
	cut     map[int]bool
	apis    map[raft.ServerID]string // every member's (fake) API address
}

type testMember struct {
	id   raft.ServerID
	addr string
	dir  string
	node *Node // nil while killed
	sm   StateMachine
}

// NewTestCluster starts n bootstrapped replicas, each with its own state
// machine from newSM. It does not wait for a leader (see WaitLeader). The
// cluster shuts down when the test ends.
func NewTestCluster(t testing.TB, n int, newSM func() StateMachine, opts TestClusterOptions) *TestCluster {
	t.Helper()
	if opts.LogLevel == hclog.NoLevel {
		opts.LogLevel = hclog.Error
	}
	out := &testLogWriter{t: t}
	c := &TestCluster{
		t: t,
		// Made before registering the cleanup below, so it is removed
		// only after the nodes have stopped (cleanups run last-in first-out).
		dir:   t.TempDir(),
		newSM: newSM,
		opts:  opts,
		net:   newFaultNet(),
		logger: hclog.New(&hclog.LoggerOptions{
			Name: "raftnode", Level: opts.LogLevel, Output: out,
		}),
		cut:  map[int]bool{},
		apis: map[raft.ServerID]string{},
	}
	t.Cleanup(func() {
		c.Shutdown()
		out.close()
	})
	layers := make([]*faultLayer, n)
	servers := make([]raft.Server, n)
	for i := range n {
		id := raft.ServerID(fmt.Sprintf("node%d", i))
		l, err := c.net.listen(id, "127.0.0.1:0")
		if err != nil {
			t.Fatalf("raftnode test cluster: listen: %v", err)
		}
		layers[i] = l
		servers[i] = raft.Server{Suffrage: raft.Voter, ID: id, Address: raft.ServerAddress(l.Addr().String())}
		c.apis[id] = testAPIAddress(id)
		c.members = append(c.members, &testMember{
			id:   id,
			addr: l.Addr().String(),
			dir:  filepath.Join(c.dir, string(id)),
		})
	}
	for i, m := range c.members {
		c.start(m, layers[i], servers)
	}
	return c
}

// AddNode starts a new, empty replica that is not yet part of the cluster
// and returns its index; add it with Join on the leader. Every running
// replica learns its API address (SetPeerAPI).
func (c *TestCluster) AddNode() int {
	c.t.Helper()
	c.mu.Lock()
	i := len(c.members)
	id := raft.ServerID(fmt.Sprintf("node%d", i))
	c.mu.Unlock()
	l, err := c.net.listen(id, "127.0.0.1:0")
	if err != nil {
		c.t.Fatalf("raftnode test cluster: listen: %v", err)
	}
	m := &testMember{id: id, addr: l.Addr().String(), dir: filepath.Join(c.dir, string(id))}
	c.mu.Lock()
	c.members = append(c.members, m)
	c.apis[id] = testAPIAddress(id)
	c.mu.Unlock()
	for _, j := range c.Live() {
		c.Node(j).SetPeerAPI(id, testAPIAddress(id))
	}
	c.start(m, l, nil)
	return i
}

func (c *TestCluster) start(m *testMember, l *faultLayer, bootstrap []raft.Server) {
	c.t.Helper()
	cfg := Config{
		ID:             m.id,
		DataDir:        m.dir,
		InMemory:       c.opts.InMemory,
		NoSync:         c.opts.NoSync,
		BootstrapPeers: bootstrap,
		PeerAPI:        c.peerAPIs(),
		ApplyTimeout:   5 * time.Second,
	}.TestTiming()
	if c.opts.Configure != nil {
		c.opts.Configure(&cfg)
	}
	cfg.StreamLayer = l
	sm := c.newSM()
	node, err := New(cfg, sm, c.logger)
	if err != nil {
		_ = l.Close()
		c.t.Fatalf("raftnode test cluster: start %s: %v", m.id, err)
	}
	c.mu.Lock()
	m.node, m.sm = node, sm
	c.mu.Unlock()
}

// testAPIAddress is the API address the test cluster registers for id.
func testAPIAddress(id raft.ServerID) string { return "api-" + string(id) }

func (c *TestCluster) peerAPIs() map[raft.ServerID]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.apis)
}

// N is the number of replicas ever started (killed ones included).
func (c *TestCluster) N() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.members)
}

// Node is replica i, or nil while it is killed.
func (c *TestCluster) Node(i int) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].node
}

// SM is replica i's current state machine (a fresh one after Restart).
func (c *TestCluster) SM(i int) StateMachine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].sm
}

// ID is replica i's raft server id.
func (c *TestCluster) ID(i int) raft.ServerID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].id
}

// Index returns the replica index of server id, or -1.
func (c *TestCluster) Index(id raft.ServerID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.members {
		if m.id == id {
			return i
		}
	}
	return -1
}

// Live returns the indexes of replicas that are running.
func (c *TestCluster) Live() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var live []int
	for i, m := range c.members {
		if m.node != nil {
			live = append(live, i)
		}
	}
	return live
}

// Kill stops replica i abruptly (transport first, no leave); its data
// directory stays for Restart.
func (c *TestCluster) Kill(i int) {
	c.t.Helper()
	c.mu.Lock()
	m := c.members[i]
	node := m.node
	m.node = nil
	c.mu.Unlock()
	if node == nil {
		return
	}
	if err := node.kill(); err != nil {
		c.t.Logf("raftnode test cluster: kill %s: %v", m.id, err)
	}
}

// Restart starts killed replica i again from its data directory and address,
// with a fresh state machine that raft restores from snapshot and log.
func (c *TestCluster) Restart(i int) {
	c.t.Helper()
	c.mu.Lock()
	m := c.members[i]
	running := m.node != nil
	c.mu.Unlock()
	if running {
		c.t.Fatalf("raftnode test cluster: restart %s: still running", m.id)
	}
	var l *faultLayer
	var err error
	// The port was just released; another socket may hold it briefly.
	for attempt := 0; attempt < 50; attempt++ {
		if l, err = c.net.listen(m.id, m.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatalf("raftnode test cluster: restart %s: listen %s: %v", m.id, m.addr, err)
	}
	c.start(m, l, nil)
}

// Partition cuts the given replicas off from all others (they can still
// reach each other), replacing any earlier partition. Connections across the
// cut are closed and new ones refused until Heal.
func (c *TestCluster) Partition(idx ...int) {
	c.mu.Lock()
	c.cut = map[int]bool{}
	ids := make([]raft.ServerID, 0, len(idx))
	for _, i := range idx {
		c.cut[i] = true
		ids = append(ids, c.members[i].id)
	}
	c.mu.Unlock()
	c.net.cut(ids...)
}

// Heal removes the partition.
func (c *TestCluster) Heal() {
	c.mu.Lock()
	c.cut = map[int]bool{}
	c.mu.Unlock()
	c.net.heal()
}

// WaitLeader waits until a running replica is leader and confirms it with a
// quorum (VerifyLeader), and returns its index. A deposed leader cut off by
// a partition is never returned.
func (c *TestCluster) WaitLeader(ctx context.Context) (int, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, i := range c.Live() {
			n := c.Node(i)
			if n == nil || !n.IsLeader() {
				continue
			}
			vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := n.VerifyLeader(vctx)
			cancel()
			if err == nil {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("raftnode test cluster: no leader: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// WaitApplied waits until every running replica outside a partition has
// applied index.
func (c *TestCluster) WaitApplied(ctx context.Context, index uint64) error {
	for _, i := range c.Live() {
		c.mu.Lock()
		cut := c.cut[i]
		c.mu.Unlock()
		if cut {
			continue
		}
		if n := c.Node(i); n != nil {
			if err := n.WaitApplied(ctx, index); err != nil {
				return fmt.Errorf("raftnode test cluster: %s at index %d, want %d: %w",
					n.ID(), n.AppliedIndex(), index, err)
			}
		}
	}
	return nil
}

// Shutdown stops every running replica. It runs at test cleanup too.
func (c *TestCluster) Shutdown() {
	var errs []error
	for _, i := range c.Live() {
		c.mu.Lock()
		node := c.members[i].node
		c.members[i].node = nil
		c.mu.Unlock()
		if node != nil {
			errs = append(errs, node.Shutdown())
		}
	}
	if err := errors.Join(errs...); err != nil {
		c.t.Logf("raftnode test cluster: shutdown: %v", err)
	}
}

// testLogWriter sends log lines to t.Log until the test is over (raft may
// still log from its goroutines while shutting down).
type testLogWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}
