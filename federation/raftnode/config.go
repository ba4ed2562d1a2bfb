package raftnode

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/hashicorp/raft"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultBatchSize = 64
	// DefaultBatchLinger: a batch takes what is queued and goes. Under load
	// group commit (MaxInflight) makes the batches; an idle hub adds no
	// delay. Measured with `make bench` (hub table, WAL store): one batch
	// in flight and no linger gave the most submissions per second, ~20%
	// over two in flight, with 25 rather than 17 commands per entry.
	DefaultBatchLinger = -1
	DefaultMaxInflight = 1

	DefaultApplyTimeout     = 10 * time.Second
	DefaultTransportTimeout = 10 * time.Second
	DefaultMaxPool          = 3
	DefaultMaxAppendEntries = 256
	DefaultSnapshotRetain   = 2
	logCacheSize            = 1024
)

// Config configures a Node. Zero timing fields take hashicorp/raft's defaults
// (heartbeat 1 s, election 1 s), except the leader lease, which defaults to
// the heartbeat timeout (see LeaderLeaseTimeout); busy machines want longer
// ones (see TestTiming).
type Config struct {
	// ID is this server's raft id, unique and stable across restarts.
	ID raft.ServerID
	// BindAddr is the host:port the raft transport listens on.
	BindAddr string
	// AdvertiseAddr is the host:port peers dial; defaults to BindAddr, which
	// must then not be an unspecified address (0.0.0.0 / ::).
	AdvertiseAddr string
	// DataDir holds the log and stable store (wal/ or raft.db, see
	// LogStore) and snapshots/. Required unless InMemory.
	DataDir string
	// LogStore picks the on-disk log and stable store: LogStoreWAL,
	// LogStoreBolt, or "" for the kind DataDir already holds (LogStoreWAL
	// for a new directory; LogStoreBolt when NoSync is set).
	LogStore string
	// WALSegmentSize is the size at which the WAL log store starts a new
	// segment file; 0 takes raft-wal's default (64 MiB).
	WALSegmentSize int
	// InMemory keeps log, stable and snapshot stores in memory (tests only:
	// nothing survives a restart).
	InMemory bool
	// NoSync turns off fsync of the log store; only the bolt store has
	// that mode. Unsafe: a crash may lose acknowledged writes. Off (fsync
	// on) by default.
	NoSync bool

	// BootstrapPeers, if set and the node has no existing state, is the
	// initial voter set New bootstraps with (it must include this node). Give
	// every initial replica the same list.
	BootstrapPeers []raft.Server

	// APIAddress is this node's API (HTTP) address for leader forwarding.
	APIAddress string
	// PeerAPI maps raft server ids to their API addresses; see the package
	// documentation. Copied by New.
	PeerAPI map[raft.ServerID]string

	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// LeaderLeaseTimeout is how long a leader keeps leading without word
	// from a quorum; 0 means the heartbeat timeout, the time a follower
	// waits for word from the leader before it stands for election.
	// raft's own default, 500 ms against a 1 s heartbeat timeout, made a
	// leader whose process stalled 0.5–1 s step down though no follower
	// would have stood for election: under load the hub lost its leader
	// in the middle of write bursts (docs/performance.md, "Leader changes
	// under load"). The lease does not set the failover time (followers
	// elect a new leader after their heartbeat timeout); it is how soon a
	// leader cut off from the others stops taking writes, which could not
	// commit anyway.
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// ApplyTimeout bounds how long raft may take to accept (enqueue) a batch
	// or membership change; 0 means DefaultApplyTimeout.
	ApplyTimeout time.Duration
	// TransportTimeout bounds transport I/O; 0 means DefaultTransportTimeout.
	TransportTimeout time.Duration
	// MaxPool is the number of pooled connections per peer.
	MaxPool int
	// MaxAppendEntries caps log entries per AppendEntries RPC.
	MaxAppendEntries int

	// SnapshotInterval, SnapshotThreshold and TrailingLogs tune raft's
	// automatic snapshots; zero takes raft's defaults.
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// SnapshotRetain is how many snapshots to keep on disk.
	SnapshotRetain int

	// BatchSize is the most commands packed into one log entry; 0 means
	// DefaultBatchSize. Keep it at or below the expected number of
	// concurrent writers, or batches wait for the linger timer.
	BatchSize int
	// BatchLinger is how long a batch waits for more commands after its
	// first one; 0 means DefaultBatchLinger, negative means no waiting (a
	// batch takes only what is already queued).
	BatchLinger time.Duration
	// MaxInflight is how many batches may wait for commit at once; while
	// that many do, the next batch keeps growing (group commit) up to
	// MaxBatch commands instead of adding another small log entry. 0 means
	// DefaultMaxInflight.
	MaxInflight int
	// MaxBatch bounds a batch grown while MaxInflight batches wait; 0
	// means 16 × BatchSize.
	MaxBatch int

	// TLS, if set, makes raft's connections mutual TLS: a peer that does
	// not present a certificate the configured CA signed is refused before
	// raft reads anything from it. Nil means plain TCP (loopback
	// development and in-process tests only).
	TLS *TLS

	// StreamLayer, if set, replaces the TCP listener/dialer (BindAddr and
	// AdvertiseAddr are then ignored). The test clusters (rafttest, hubtest)
	// use it for fault injection (internal/faultnet). The node closes it on
	// shutdown.
	StreamLayer raft.StreamLayer
}

// TestTiming returns c with raft timeouts long enough for a starved,
// overloaded machine, where the defaults make leaders step down spuriously.
// Leader failover then takes a few seconds.
func (c Config) TestTiming() Config {
	c.HeartbeatTimeout = 800 * time.Millisecond
	c.ElectionTimeout = 1200 * time.Millisecond
	c.LeaderLeaseTimeout = 800 * time.Millisecond
	c.CommitTimeout = 20 * time.Millisecond
	return c
}

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.ID == "" {
		return c, errors.New("raftnode: Config.ID is required")
	}
	if c.StreamLayer == nil && c.BindAddr == "" {
		return c, errors.New("raftnode: Config.BindAddr is required")
	}
	if !c.InMemory && c.DataDir == "" {
		return c, errors.New("raftnode: Config.DataDir is required unless InMemory")
	}
	if c.AdvertiseAddr == "" {
		c.AdvertiseAddr = c.BindAddr
	}
	switch c.LogStore {
	case "", LogStoreBolt:
	case LogStoreWAL:
		if c.NoSync {
			return c, errors.New("raftnode: NoSync needs the bolt log store (the WAL always syncs)")
		}
	default:
		return c, fmt.Errorf("raftnode: unknown log store %q (want %q or %q)", c.LogStore, LogStoreWAL, LogStoreBolt)
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchLinger == 0 {
		c.BatchLinger = DefaultBatchLinger
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.MaxBatch < c.BatchSize {
		c.MaxBatch = 16 * c.BatchSize
	}
	if c.ApplyTimeout <= 0 {
		c.ApplyTimeout = DefaultApplyTimeout
	}
	if c.TransportTimeout <= 0 {
		c.TransportTimeout = DefaultTransportTimeout
	}
	if c.MaxPool <= 0 {
		c.MaxPool = DefaultMaxPool
	}
	if c.MaxAppendEntries <= 0 {
		c.MaxAppendEntries = DefaultMaxAppendEntries
	}
	if c.SnapshotRetain <= 0 {
		c.SnapshotRetain = DefaultSnapshotRetain
	}
	c.PeerAPI = maps.Clone(c.PeerAPI)
	if c.PeerAPI == nil {
		c.PeerAPI = map[raft.ServerID]string{}
	}
	if c.APIAddress != "" {
		c.PeerAPI[c.ID] = c.APIAddress
	}
	c.BootstrapPeers = append([]raft.Server(nil), c.BootstrapPeers...)
	return c, nil
}

// raftConfig builds hashicorp/raft's configuration from c (defaults filled).
func (c Config) raftConfig() (*raft.Config, error) {
	rc := raft.DefaultConfig()
	rc.LocalID = c.ID
	if c.HeartbeatTimeout > 0 {
		rc.HeartbeatTimeout = c.HeartbeatTimeout
	}
	if c.ElectionTimeout > 0 {
		rc.ElectionTimeout = c.ElectionTimeout
	}
	rc.LeaderLeaseTimeout = rc.HeartbeatTimeout
	if c.LeaderLeaseTimeout > 0 {
		rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	}
	if c.CommitTimeout > 0 {
		rc.CommitTimeout = c.CommitTimeout
	}
	if c.SnapshotInterval > 0 {
		rc.SnapshotInterval = c.SnapshotInterval
	}
	if c.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = c.SnapshotThreshold
	}
	if c.TrailingLogs > 0 {
		rc.TrailingLogs = c.TrailingLogs
	}
	rc.MaxAppendEntries = c.MaxAppendEntries
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	return rc, nil
}
