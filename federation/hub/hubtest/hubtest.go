// Package hubtest runs hub replicas in one process: real HTTP servers and
// raft on loopback TCP, raft data on disk (so replicas restart from it), a
// bootstrap administrator (Admin, with key Cluster.AdminKey), and a
// network (internal/faultnet) whose replica-to-replica links — raft and
// forwarding, not clients — Partition can cut.
//
// It is the one way to start in-process replicas: tests use New (data in
// the test's temporary directory, stopped at cleanup, setup errors fail
// the test); the demo and the benchmarks use Start (data under a given
// directory, errors returned, stopped with StopAll or Shutdown). The
// package does not import testing: New takes any TB, which *testing.T and
// *testing.B satisfy, so production packages never link it.
package hubtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/internal/faultnet"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
	"golang.org/x/crypto/bcrypt"
)

// Admin is the bootstrap administrator's username in a Cluster.
const Admin = "admin"

// TB is the part of testing.TB a Cluster uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// Options tunes New and Start; the zero value is a sensible default:
// raftnode's TestTiming, fsync on, the default log store on disk, the
// fault network, logs discarded, no dispatcher.
type Options struct {
	// Configure, if set, adjusts every replica's Config before it starts
	// (e.g. Dispatch, Raft.LogStore); it has the last word.
	Configure func(i int, cfg *hub.Config)
	// NoSync turns off fsync of the raft logs.
	NoSync bool
	// Logger receives the replicas' logs; nil discards them.
	Logger *slog.Logger
	// AsBinary runs every replica as flotilla-hub configures it: raft's
	// default timing and apply timeout, plain loopback TCP for raft and
	// the hub's own forwarding transport. There is no fault network then,
	// so Partition and Heal fail.
	AsBinary bool
	// TLS serves every replica's API over HTTPS (HTTP/2 offered by ALPN)
	// and runs raft and the replicas' calls to each other on mutual TLS,
	// as flotilla-hub does with -tls-cert: certificates from a CA the
	// cluster makes under its directory (Cluster.CAFile). URLs are then
	// https. Like AsBinary, it runs on plain loopback TCP, without the
	// fault network.
	TLS bool
}

// Cluster is hub replicas running in this process (see the package
// documentation). Its methods are safe for concurrent use, but those that
// start replicas or cut links (AddReplica, Restart, Partition, Heal) fail
// the test on setup errors, so call them from the test goroutine; outside
// a test (Start) they panic instead.
type Cluster struct {
	// AdminKey is the bootstrap administrator's API key.
	AdminKey string

	t    TB // nil when started by Start
	opts Options
	net  *faultnet.Net // nil with Options.AsBinary
	// CAFile is the PEM file of the CA that signed the replicas'
	// certificates (Options.TLS; "" without).
	CAFile  string
	dir     string
	secret  string
	peers   []raftnode.Server
	apis    map[raftnode.ServerID]string
	mu      sync.Mutex
	members []*member
}

type member struct {
	id       raftnode.ServerID
	raftAddr string
	httpAddr string
	dir      string
	// raftLn and httpLn are listeners opened before the next start (the
	// first one); start opens missing ones on the member's addresses.
	raftLn, httpLn net.Listener
	hub            *hub.Hub // nil while stopped
	done           chan struct{}
	// tls is the replica's certificate (Options.TLS).
	tls *hubtls.Replica
	// added replicas (AddReplica) start without a bootstrap configuration
	// and know only their own API address: they join with JoinCluster.
	added bool
}

// New starts n replicas for a test, with data in t.TempDir(). It does not
// wait for a leader (see WaitLeader, WaitReady). Everything stops when the
// test ends.
func New(t TB, n int, opts Options) *Cluster {
	t.Helper()
	c := newCluster(t, t.TempDir(), opts)
	t.Cleanup(c.Shutdown)
	if err := c.startAll(n); err != nil {
		t.Fatalf("hub test cluster: %v", err)
	}
	return c
}

// Start starts n replicas outside a test (the demo, the benchmarks), with
// data under dir. Unlike New it keeps the production bcrypt cost and raft
// apply timeout. Stop the replicas with StopAll or Shutdown.
func Start(dir string, n int, opts Options) (*Cluster, error) {
	c := newCluster(nil, dir, opts)
	if err := c.startAll(n); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

func newCluster(t TB, dir string, opts Options) *Cluster {
	c := &Cluster{
		AdminKey: "adm-" + rand.Text(),
		t:        t, opts: opts, dir: dir, secret: rand.Text(),
		apis: map[raftnode.ServerID]string{},
	}
	if !opts.AsBinary && !opts.TLS {
		c.net = faultnet.New()
	}
	return c
}

// startAll opens every replica's listeners, so that all addresses are
// known, then starts them with the full bootstrap configuration.
func (c *Cluster) startAll(n int) error {
	for i := range n {
		m, err := c.newMember(i, false)
		if err != nil {
			return err
		}
		c.peers = append(c.peers, raftnode.Server{Suffrage: raftnode.Voter, ID: m.id, Address: raftnode.ServerAddress(m.raftAddr)})
	}
	for i, m := range c.members {
		if err := c.start(i, m); err != nil {
			return err
		}
	}
	return nil
}

// newMember opens replica i's listeners and lists it.
func (c *Cluster) newMember(i int, added bool) (*member, error) {
	id := raftnode.ServerID(fmt.Sprintf("hub%d", i))
	rln, err := c.listen(id, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hln, err := c.listen(id, "127.0.0.1:0")
	if err != nil {
		_ = rln.Close()
		return nil, err
	}
	m := &member{id: id, raftAddr: rln.Addr().String(), httpAddr: hln.Addr().String(),
		dir: filepath.Join(c.dir, string(id)), raftLn: rln, httpLn: hln, added: added}
	if c.opts.TLS {
		if m.tls, err = c.issue(id); err != nil {
			_, _ = rln.Close(), hln.Close()
			return nil, err
		}
	}
	c.mu.Lock()
	c.members = append(c.members, m)
	c.apis[id] = c.scheme() + "://" + m.httpAddr
	c.mu.Unlock()
	return m, nil
}

// listen opens addr for replica id, on the fault network unless AsBinary.
func (c *Cluster) listen(id raftnode.ServerID, addr string) (net.Listener, error) {
	if c.net != nil {
		return c.net.Listen(string(id), addr)
	}
	return faultnet.Listen(addr)
}

func (c *Cluster) start(i int, m *member) error {
	c.mu.Lock()
	rln, hln := m.raftLn, m.httpLn
	m.raftLn, m.httpLn = nil, nil
	c.mu.Unlock()
	var err error
	if rln == nil {
		if rln, err = c.listen(m.id, m.raftAddr); err != nil {
			return fmt.Errorf("start %s: %w", m.id, err)
		}
	}
	if hln == nil {
		if hln, err = c.listen(m.id, m.httpAddr); err != nil {
			_ = rln.Close()
			return fmt.Errorf("start %s: %w", m.id, err)
		}
	}
	cfg := c.config(i, m, rln, hln)
	h, err := hub.New(cfg)
	if err != nil {
		_ = hln.Close()
		_ = cfg.Raft.StreamLayer.Close()
		return fmt.Errorf("start %s: %w", m.id, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.Run(context.Background())
	}()
	c.mu.Lock()
	m.hub, m.done = h, done
	c.mu.Unlock()
	return nil
}

// config is replica i's hub configuration on listeners rln (raft) and hln
// (HTTP).
func (c *Cluster) config(i int, m *member, rln, hln net.Listener) hub.Config {
	c.mu.Lock()
	rc := raftnode.Config{
		ID: m.id, DataDir: m.dir, NoSync: c.opts.NoSync, BootstrapPeers: c.peers,
		APIAddress: c.apis[m.id], PeerAPI: maps.Clone(c.apis),
	}
	if m.added {
		rc.BootstrapPeers, rc.PeerAPI = nil, nil
	}
	c.mu.Unlock()
	cfg := hub.Config{
		Raft: rc, Listener: hln, InternalSecret: c.secret,
		Auth:   auth.Config{Bootstrap: &auth.BootstrapAdmin{Username: Admin, APIKey: c.AdminKey}},
		Logger: c.opts.Logger,
		// Suites and benchmarks drive one user hard: no rate limits
		// unless a test configures them.
		Limits: &api.Limits{},
	}
	if c.net != nil {
		cfg.Raft = cfg.Raft.TestTiming()
		cfg.Raft.StreamLayer = c.net.Layer(string(m.id), rln)
		cfg.ForwardTransport = c.net.Transport(string(m.id))
	} else {
		cfg.Raft.StreamLayer = tcpLayer{rln}
	}
	if c.t != nil { // a test: fast password hashes, failing writes give up sooner
		cfg.Raft.ApplyTimeout = 5 * time.Second
		cfg.Auth.BcryptCost = bcrypt.MinCost
	}
	if cfg.Logger != nil {
		cfg.Logger = cfg.Logger.With("replica", string(m.id))
	}
	if m.tls != nil {
		cfg.TLS = m.tls
		cfg.Raft.TLS = &raftnode.TLS{Server: m.tls.RaftServer(), Client: m.tls.RaftClient()}
	}
	if c.opts.Configure != nil {
		c.opts.Configure(i, &cfg)
	}
	return cfg
}

// tcpLayer is raft's plain TCP stream layer over a listener opened
// beforehand, so that every replica's address is known before any starts.
type tcpLayer struct{ net.Listener }

func (l tcpLayer) Dial(addr raftnode.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}

// AddReplica starts a new replica that is not part of the cluster: no
// bootstrap configuration, and only its own API address known. It returns
// its index; the replica joins with JoinCluster (as flotilla-hub -join
// does), e.g. c.Hub(i).JoinCluster(ctx, c.URL(0)).
func (c *Cluster) AddReplica() int {
	c.helper()
	i := c.N()
	m, err := c.newMember(i, true)
	if err != nil {
		c.fatalf("hub test cluster: %v", err)
	}
	if err := c.start(i, m); err != nil {
		c.fatalf("hub test cluster: %v", err)
	}
	return i
}

// Restart starts stopped replica i again from its data directory, at the
// same addresses.
func (c *Cluster) Restart(i int) {
	c.helper()
	c.mu.Lock()
	m := c.members[i]
	running := m.hub != nil
	c.mu.Unlock()
	if running {
		c.fatalf("hub test cluster: restart %s: still running", m.id)
	}
	if err := c.start(i, m); err != nil {
		c.fatalf("hub test cluster: restart: %v", err)
	}
}

func (c *Cluster) helper() {
	if c.t != nil {
		c.t.Helper()
	}
}

func (c *Cluster) fatalf(format string, args ...any) {
	if c.t == nil {
		panic(fmt.Sprintf(format, args...))
	}
	c.t.Helper()
	c.t.Fatalf(format, args...)
}

func (c *Cluster) logf(format string, args ...any) {
	switch {
	case c.t != nil:
		c.t.Logf(format, args...)
	case c.opts.Logger != nil:
		c.opts.Logger.Warn(fmt.Sprintf(format, args...))
	}
}
