package hub

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"golang.org/x/crypto/bcrypt"
)

// TestAdmin is the bootstrap administrator's username in a TestCluster.
const TestAdmin = "admin"

// TestOptions tunes NewTestCluster; the zero value is a sensible default:
// raftnode's TestTiming, fsync on, bolt stores on disk, logs discarded.
type TestOptions struct {
	// Configure, if set, adjusts every replica's Config before it starts.
	Configure func(i int, cfg *Config)
	// NoSync turns off fsync of the raft logs.
	NoSync bool
	// Logger receives the replicas' logs; nil discards them.
	Logger *slog.Logger
}

// TestCluster runs hub replicas in one process for tests: real HTTP
// servers and raft on loopback TCP, raft data in t.TempDir() (so replicas
// restart from disk), a bootstrap administrator with key AdminKey, and a
// network whose replica-to-replica links (raft and forwarding, not clients)
// Partition can cut. Its methods call t.Fatal on setup errors, so call them
// from the test goroutine. Everything stops when the test ends.
type TestCluster struct {
	// AdminKey is the bootstrap administrator's API key.
	AdminKey string

	t       testing.TB
	opts    TestOptions
	net     *faultNet
	dir     string
	secret  string
	peers   []raftnode.Server
	apis    map[raftnode.ServerID]string
	mu      sync.Mutex
	members []*testMember
}

type testMember struct {
	id       raftnode.ServerID
	raftAddr string
	httpAddr string
	dir      string
	httpLn   net.Listener // the first start's listener
	hub      *Hub         // nil while stopped
	done     chan struct{}
	// added replicas (AddReplica) start without a bootstrap configuration
	// and know only their own API address: they join with JoinCluster.
	added bool
}

// NewTestCluster starts n replicas. It does not wait for a leader (see
// WaitLeader).
func NewTestCluster(t testing.TB, n int, opts TestOptions) *TestCluster {
	t.Helper()
	dir := t.TempDir()
	c := &TestCluster{
		AdminKey: "adm-" + rand.Text(),
		t:        t, opts: opts, net: newFaultNet(), dir: dir, secret: rand.Text(),
		apis: map[raftnode.ServerID]string{},
	}
	t.Cleanup(c.Shutdown)
	raftLns := make([]*faultLayer, n)
	for i := range n {
		id := raftnode.ServerID(fmt.Sprintf("hub%d", i))
		rln, err := listen("127.0.0.1:0")
		if err != nil {
			t.Fatalf("hub test cluster: %v", err)
		}
		hln, err := listen("127.0.0.1:0")
		if err != nil {
			t.Fatalf("hub test cluster: %v", err)
		}
		m := &testMember{id: id, raftAddr: rln.Addr().String(), httpAddr: hln.Addr().String(),
			dir: filepath.Join(dir, string(id)), httpLn: hln}
		c.net.register(m.raftAddr, id)
		c.net.register(m.httpAddr, id)
		c.apis[id] = "http://" + m.httpAddr
		c.peers = append(c.peers, raftnode.Server{Suffrage: raftnode.Voter, ID: id, Address: raftnode.ServerAddress(m.raftAddr)})
		c.members = append(c.members, m)
		raftLns[i] = &faultLayer{net: c.net, self: id, ln: rln}
	}
	for i, m := range c.members {
		c.start(i, m, raftLns[i])
	}
	return c
}

func (c *TestCluster) start(i int, m *testMember, layer *faultLayer) {
	c.t.Helper()
	hln := m.httpLn
	m.httpLn = nil
	if hln == nil {
		var err error
		if hln, err = listen(m.httpAddr); err != nil {
			c.t.Fatalf("hub test cluster: listen %s: %v", m.httpAddr, err)
		}
	}
	c.mu.Lock()
	rc := raftnode.Config{
		ID: m.id, DataDir: m.dir, NoSync: c.opts.NoSync, BootstrapPeers: c.peers,
		APIAddress: c.apis[m.id], PeerAPI: maps.Clone(c.apis), ApplyTimeout: 5 * time.Second,
		StreamLayer: layer,
	}.TestTiming()
	if m.added {
		rc.BootstrapPeers, rc.PeerAPI = nil, nil
	}
	c.mu.Unlock()
	cfg := Config{
		Raft: rc, Listener: hln, InternalSecret: c.secret,
		Auth: auth.Config{
			Bootstrap:  &auth.BootstrapAdmin{Username: TestAdmin, APIKey: c.AdminKey},
			BcryptCost: bcrypt.MinCost,
		},
		ForwardTransport: c.net.transport(m.id),
		Logger:           c.opts.Logger,
	}
	if cfg.Logger != nil {
		cfg.Logger = cfg.Logger.With("replica", string(m.id))
	}
	if c.opts.Configure != nil {
		c.opts.Configure(i, &cfg)
	}
	h, err := New(cfg)
	if err != nil {
		_ = hln.Close()
		_ = layer.Close()
		c.t.Fatalf("hub test cluster: start %s: %v", m.id, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.Run(context.Background())
	}()
	c.mu.Lock()
	m.hub, m.done = h, done
	c.mu.Unlock()
}

// AddReplica starts a new replica that is not part of the cluster: no
// bootstrap configuration, and only its own API address known. It returns
// its index; the replica joins with JoinCluster (as flotilla-hub -join
// does), e.g. c.Hub(i).JoinCluster(ctx, c.URL(0)).
func (c *TestCluster) AddReplica() int {
	c.t.Helper()
	rln, err := listen("127.0.0.1:0")
	if err != nil {
		c.t.Fatalf("hub test cluster: %v", err)
	}
	hln, err := listen("127.0.0.1:0")
	if err != nil {
		c.t.Fatalf("hub test cluster: %v", err)
	}
	c.mu.Lock()
	i := len(c.members)
	id := raftnode.ServerID(fmt.Sprintf("hub%d", i))
	m := &testMember{id: id, raftAddr: rln.Addr().String(), httpAddr: hln.Addr().String(),
		dir: filepath.Join(c.dir, string(id)), httpLn: hln, added: true}
	c.members = append(c.members, m)
	c.apis[id] = "http://" + m.httpAddr
	c.mu.Unlock()
	c.net.register(m.raftAddr, id)
	c.net.register(m.httpAddr, id)
	c.start(i, m, &faultLayer{net: c.net, self: id, ln: rln})
	return i
}

// N is the number of replicas, added ones included.
func (c *TestCluster) N() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.members)
}

// Hub is replica i, or nil while it is stopped.
func (c *TestCluster) Hub(i int) *Hub {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].hub
}

// ID is replica i's raft id.
func (c *TestCluster) ID(i int) raftnode.ServerID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].id
}

// URL is replica i's API base URL (stable across restarts).
func (c *TestCluster) URL(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apis[c.members[i].id]
}

// URLs are all replicas' API base URLs.
func (c *TestCluster) URLs() []string {
	out := make([]string, c.N())
	for i := range out {
		out[i] = c.URL(i)
	}
	return out
}

// RaftAddr is replica i's raft address.
func (c *TestCluster) RaftAddr(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].raftAddr
}

// Live returns the indexes of running replicas.
func (c *TestCluster) Live() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for i, m := range c.members {
		if m.hub != nil {
			out = append(out, i)
		}
	}
	return out
}

// Kill stops replica i abruptly: connections drop, raft stops without
// leaving. Its data stays for Restart.
func (c *TestCluster) Kill(i int) { c.stop(i, func(h *Hub) error { return h.Close() }) }

// Stop shuts replica i down gracefully.
func (c *TestCluster) Stop(i int) {
	c.stop(i, func(h *Hub) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return h.Shutdown(ctx)
	})
}

func (c *TestCluster) stop(i int, how func(*Hub) error) {
	c.mu.Lock()
	m := c.members[i]
	h, done := m.hub, m.done
	m.hub = nil
	c.mu.Unlock()
	if h == nil {
		return
	}
	if err := how(h); err != nil {
		c.t.Logf("hub test cluster: stop %s: %v", m.id, err)
	}
	<-done
}

// Restart starts stopped replica i again from its data directory, at the
// same addresses.
func (c *TestCluster) Restart(i int) {
	c.t.Helper()
	c.mu.Lock()
	m := c.members[i]
	c.mu.Unlock()
	if c.Hub(i) != nil {
		c.t.Fatalf("hub test cluster: restart %s: still running", m.id)
	}
	rln, err := listen(m.raftAddr)
	if err != nil {
		c.t.Fatalf("hub test cluster: restart %s: %v", m.id, err)
	}
	c.start(i, m, &faultLayer{net: c.net, self: m.id, ln: rln})
}

// Partition cuts replicas idx off from the others (raft and forwarding),
// replacing any earlier partition; clients still reach every replica.
func (c *TestCluster) Partition(idx ...int) {
	ids := make([]raftnode.ServerID, len(idx))
	for k, i := range idx {
		ids[k] = c.ID(i)
	}
	c.net.cut(ids...)
}

// Heal removes the partition.
func (c *TestCluster) Heal() { c.net.heal() }

// WaitLeader waits until a running replica leads with a quorum's
// confirmation and returns its index.
func (c *TestCluster) WaitLeader(ctx context.Context) (int, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, i := range c.Live() {
			h := c.Hub(i)
			if h == nil || !h.Node().IsLeader() {
				continue
			}
			vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := h.Node().VerifyLeader(vctx)
			cancel()
			if err == nil {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("hub test cluster: no leader: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// WaitReady waits for a leader and until every running replica holds the
// bootstrap administrator (stored by the leader after its election) and
// the replica directory entry of every member of the raft configuration
// (each replica lists itself), so that the state changes only by what a
// test does. It returns the leader.
func (c *TestCluster) WaitReady(ctx context.Context) (int, error) {
	l, err := c.WaitLeader(ctx)
	if err != nil {
		return -1, err
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ready := true
		var members []raftnode.Server
		if h := c.Hub(l); h != nil {
			members, _ = h.Node().Servers()
		}
		for _, i := range c.Live() {
			h := c.Hub(i)
			if h == nil {
				ready = false
				continue
			}
			txn := h.Store().Read()
			if _, err := txn.User(TestAdmin); err != nil {
				ready = false
			}
			for _, s := range members {
				if r, err := txn.Replica(string(s.ID)); err != nil || r.RaftAddress != string(s.Address) {
					ready = false
				}
			}
		}
		if ready && len(members) > 0 {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("hub test cluster: bootstrap administrator or replica directory not stored: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// WaitApplied waits until every running replica has applied index.
func (c *TestCluster) WaitApplied(ctx context.Context, index uint64) error {
	for _, i := range c.Live() {
		if h := c.Hub(i); h != nil {
			if err := h.Node().WaitApplied(ctx, index); err != nil {
				return fmt.Errorf("hub test cluster: %s at %d, want %d: %w", c.ID(i), h.Node().AppliedIndex(), index, err)
			}
		}
	}
	return nil
}

// Shutdown stops every replica; it runs at test cleanup too.
func (c *TestCluster) Shutdown() {
	var wg sync.WaitGroup
	for _, i := range c.Live() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Kill(i)
		}()
	}
	wg.Wait()
}
