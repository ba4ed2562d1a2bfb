// Package rafttest starts in-process raftnode clusters for tests: real TCP
// on loopback, real log stores in the test's temporary directory, and a
// fault-injecting network (internal/faultnet) whose links Partition cuts:
// new dials across the cut are refused and the connections that already
// cross it are closed; Heal lifts the cut. Kill stops a node abruptly
// (raftnode's Node.Kill), Restart brings it back from the same data
// directory and address.
//
// The package does not import testing: a Cluster takes any TB (*testing.T
// and *testing.B satisfy it), so production packages never link it.
package rafttest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/internal/faultnet"
	"github.com/hashicorp/go-hclog"
)

// TB is the part of testing.TB a Cluster uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// Options tunes New; the zero value is a sensible default
// (raftnode.Config.TestTiming, fsync on, the default log store — see
// raftnode.Config.LogStore —, errors logged to the test).
type Options struct {
	// Configure, if set, adjusts every node's Config before it starts (e.g.
	// batch size, snapshot thresholds). It sees TestTiming already applied.
	Configure func(*raftnode.Config)
	// NoSync turns off fsync (on the bolt log store, see Config.NoSync).
	NoSync bool
	// InMemory uses in-memory stores: faster, but Restart loses all state.
	InMemory bool
	// LogLevel is the level logged through t.Logf; zero means hclog.Error.
	LogLevel hclog.Level
}

// Cluster is an in-process raft cluster for tests (see the package
// documentation). Its methods call t.Fatalf on setup errors, so call them
// from the test goroutine.
type Cluster struct {
	t      TB
	newSM  func() raftnode.StateMachine
	opts   Options
	net    *faultnet.Net
	logger hclog.Logger
	dir    string

	mu      sync.Mutex
	members []*member
	cut     map[int]bool
	apis    map[raftnode.ServerID]string // every member's (fake) API address
}

type member struct {
	id   raftnode.ServerID
	addr string
	dir  string
	node *raftnode.Node // nil while killed
	sm   raftnode.StateMachine
}

// New starts n bootstrapped replicas, each with its own state machine from
// newSM. It does not wait for a leader (see WaitLeader). The cluster shuts
// down when the test ends.
func New(t TB, n int, newSM func() raftnode.StateMachine, opts Options) *Cluster {
	t.Helper()
	if opts.LogLevel == hclog.NoLevel {
		opts.LogLevel = hclog.Error
	}
	out := &logWriter{t: t}
	c := &Cluster{
		t: t,
		// Made before registering the cleanup below, so it is removed
		// only after the nodes have stopped (cleanups run last-in first-out).
		dir:   t.TempDir(),
		newSM: newSM,
		opts:  opts,
		net:   faultnet.New(),
		logger: hclog.New(&hclog.LoggerOptions{
			Name: "raftnode", Level: opts.LogLevel, Output: out,
		}),
		cut:  map[int]bool{},
		apis: map[raftnode.ServerID]string{},
	}
	t.Cleanup(func() {
		c.Shutdown()
		out.close()
	})
	layers := make([]*faultnet.Layer, n)
	servers := make([]raftnode.Server, n)
	for i := range n {
		id := raftnode.ServerID(fmt.Sprintf("node%d", i))
		ln, err := c.net.Listen(string(id), "127.0.0.1:0")
		if err != nil {
			t.Fatalf("raftnode test cluster: listen: %v", err)
		}
		layers[i] = c.net.Layer(string(id), ln)
		servers[i] = raftnode.Server{Suffrage: raftnode.Voter, ID: id, Address: raftnode.ServerAddress(ln.Addr().String())}
		c.apis[id] = APIAddress(id)
		c.members = append(c.members, &member{
			id:   id,
			addr: ln.Addr().String(),
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
func (c *Cluster) AddNode() int {
	c.t.Helper()
	c.mu.Lock()
	i := len(c.members)
	id := raftnode.ServerID(fmt.Sprintf("node%d", i))
	c.mu.Unlock()
	ln, err := c.net.Listen(string(id), "127.0.0.1:0")
	if err != nil {
		c.t.Fatalf("raftnode test cluster: listen: %v", err)
	}
	m := &member{id: id, addr: ln.Addr().String(), dir: filepath.Join(c.dir, string(id))}
	c.mu.Lock()
	c.members = append(c.members, m)
	c.apis[id] = APIAddress(id)
	c.mu.Unlock()
	for _, j := range c.Live() {
		c.Node(j).SetPeerAPI(id, APIAddress(id))
	}
	c.start(m, c.net.Layer(string(id), ln), nil)
	return i
}

func (c *Cluster) start(m *member, l *faultnet.Layer, bootstrap []raftnode.Server) {
	c.t.Helper()
	cfg := raftnode.Config{
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
	node, err := raftnode.New(cfg, sm, c.logger)
	if err != nil {
		_ = l.Close()
		c.t.Fatalf("raftnode test cluster: start %s: %v", m.id, err)
	}
	c.mu.Lock()
	m.node, m.sm = node, sm
	c.mu.Unlock()
}

// APIAddress is the (fake) API address the cluster registers for
// replica id in every node's peer registry.
func APIAddress(id raftnode.ServerID) string { return "api-" + string(id) }

func (c *Cluster) peerAPIs() map[raftnode.ServerID]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.apis)
}

// N is the number of replicas ever started (killed ones included).
func (c *Cluster) N() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.members)
}

// Node is replica i, or nil while it is killed.
func (c *Cluster) Node(i int) *raftnode.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].node
}

// SM is replica i's current state machine (a fresh one after Restart).
func (c *Cluster) SM(i int) raftnode.StateMachine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].sm
}

// ID is replica i's raft server id.
func (c *Cluster) ID(i int) raftnode.ServerID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].id
}

// Index returns the replica index of server id, or -1.
func (c *Cluster) Index(id raftnode.ServerID) int {
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
func (c *Cluster) Live() []int {
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

// Kill stops replica i abruptly (raftnode.Node.Kill: transport first, no
// leave); its data directory stays for Restart.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	c.mu.Lock()
	m := c.members[i]
	node := m.node
	m.node = nil
	c.mu.Unlock()
	if node == nil {
		return
	}
	if err := node.Kill(); err != nil {
		c.t.Logf("raftnode test cluster: kill %s: %v", m.id, err)
	}
}

// Restart starts killed replica i again from its data directory and address,
// with a fresh state machine that raft restores from snapshot and log.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.mu.Lock()
	m := c.members[i]
	running := m.node != nil
	c.mu.Unlock()
	if running {
		c.t.Fatalf("raftnode test cluster: restart %s: still running", m.id)
	}
	// The port was just released; Listen retries while another socket
	// holds it briefly.
	ln, err := c.net.Listen(string(m.id), m.addr)
	if err != nil {
		c.t.Fatalf("raftnode test cluster: restart %s: listen %s: %v", m.id, m.addr, err)
	}
	c.start(m, c.net.Layer(string(m.id), ln), nil)
}

// Partition cuts the given replicas off from all others (they can still
// reach each other), replacing any earlier partition. Connections across the
// cut are closed and new ones refused until Heal.
func (c *Cluster) Partition(idx ...int) {
	c.mu.Lock()
	c.cut = map[int]bool{}
	ids := make([]string, 0, len(idx))
	for _, i := range idx {
		c.cut[i] = true
		ids = append(ids, string(c.members[i].id))
	}
	c.mu.Unlock()
	c.net.Cut(ids...)
}

// Heal removes the partition.
func (c *Cluster) Heal() {
	c.mu.Lock()
	c.cut = map[int]bool{}
	c.mu.Unlock()
	c.net.Heal()
}

// WaitLeader waits until a running replica is leader and confirms it with a
// quorum (VerifyLeader), and returns its index. A deposed leader cut off by
// a partition is never returned.
func (c *Cluster) WaitLeader(ctx context.Context) (int, error) {
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
func (c *Cluster) WaitApplied(ctx context.Context, index uint64) error {
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
func (c *Cluster) Shutdown() {
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

// logWriter sends log lines to t.Logf until the test is over (raft may
// still log from its goroutines while shutting down).
type logWriter struct {
	mu     sync.Mutex
	t      TB
	closed bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *logWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}
