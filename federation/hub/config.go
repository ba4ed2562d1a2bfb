package hub

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/portal"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
	"github.com/hashicorp/go-hclog"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultWriteTimeout       = 15 * time.Second
	DefaultForwardApplyWait   = 2 * time.Second
	DefaultMaxBodyBytes       = 1 << 20
	DefaultRetryBackoffMin    = 5 * time.Millisecond
	DefaultRetryBackoffMax    = 250 * time.Millisecond
	DefaultHTTPIdleTimeout    = 2 * time.Minute
	defaultShutdownGrace      = 5 * time.Second
	defaultForwardIdlePerHost = 256
)

// Config configures one hub replica.
type Config struct {
	// Raft configures the replica's raft node. Raft.APIAddress must be this
	// replica's base URL (e.g. "http://10.0.0.1:8080") and Raft.PeerAPI the
	// base URLs of all replicas by raft id: writes received by a follower
	// are forwarded to the leader's URL.
	Raft raftnode.Config
	// RaftLogger receives raft's logs; nil discards them.
	RaftLogger hclog.Logger

	// HTTPAddr is the address the API listens on, e.g. ":8080"; ignored
	// when Listener is set.
	HTTPAddr string
	// Listener, if set, is the listener the API serves on.
	Listener net.Listener

	// TLS is the replica's TLS material: the API serves HTTPS (HTTP/2),
	// raft runs mutual TLS, and replicas call each other's internal
	// endpoints presenting their certificates. Nil serves plain HTTP and
	// plain raft: loopback development and in-process tests only (the
	// flotilla-hub command refuses it without -insecure-http).
	TLS *hubtls.Replica

	// InternalSecret authenticates replicas to each other on the internal
	// endpoints (/internal/v1/...). Required with more than one replica;
	// give every replica the same value.
	InternalSecret string

	// Auth configures authentication: system tenant, bootstrap
	// administrator, bcrypt cost.
	Auth auth.Config

	// WriteTimeout bounds a write including its retries and forwarding
	// while no leader is reachable; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// ForwardApplyWait bounds how long a follower waits, after the leader
	// acknowledged a forwarded write, until it has applied the write itself
	// (so a read on the same replica sees it); 0 means
	// DefaultForwardApplyWait, negative means no waiting.
	ForwardApplyWait time.Duration
	// RetryBackoffMin and RetryBackoffMax bound the backoff between write
	// attempts; 0 means the defaults.
	RetryBackoffMin, RetryBackoffMax time.Duration
	// MaxBodyBytes limits request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// BatchImage is the image of job scripts that name none (api.Config).
	BatchImage string
	// PrivateCatalog: /jarvice/apps wants credentials (api.Config).
	PrivateCatalog bool
	// Limits bound request rates per caller and address (see api.Limits);
	// nil means api.DefaultLimits.
	Limits *api.Limits

	// UnencryptedHTTP2 makes a plain-HTTP API listener also accept HTTP/2
	// with prior knowledge (h2c) beside HTTP/1.1. Off by default: clients
	// multiplexed on one h2c connection cost the replicas more CPU and
	// allocations per submission than HTTP/1.1 connections
	// (docs/performance.md, "the request path, third round"); the bench
	// sets it for -hub-h2c. Over TLS the listener offers HTTP/2 by ALPN
	// either way.
	UnencryptedHTTP2 bool
	// NoLeanHTTP serves every request through net/http. By default the
	// API listener serves HTTP/1.1 submissions on a lean path of its own
	// (over TLS once the handshake chose HTTP/1.1; HTTP/2 connections go
	// to net/http) and hands everything else to net/http (leanserve.go,
	// leantls.go; LeanEnv turns it off process-wide).
	NoLeanHTTP bool
	// HTTPIdleTimeout closes an API connection idle that long between
	// requests; 0 means DefaultHTTPIdleTimeout.
	HTTPIdleTimeout time.Duration

	// ForwardTransport, if set, carries requests to other replicas
	// (tests use it to cut links); nil means a pooled http.Transport.
	ForwardTransport http.RoundTripper

	// Logger receives the hub's logs; nil discards them.
	Logger *slog.Logger

	// Dispatch, if set, runs the placement loop on this replica while it
	// leads (federation/dispatch): queued jobs are assigned to clusters.
	Dispatch *DispatchOptions
	// Now is the clock that stamps times into the log; nil means time.Now.
	Now func() time.Time

	// JobRetention is how long a finished job stays in the hub's state
	// after it ended; then the leader purges it through raft, keeping an
	// accounting record of it. 0 keeps finished jobs forever.
	JobRetention time.Duration
	// PurgeInterval is how often the leader looks for expired jobs (0:
	// DefaultPurgeInterval); PurgeBatch bounds the jobs one purge command
	// deletes (0: DefaultPurgeBatch).
	PurgeInterval time.Duration
	PurgeBatch    int
	// AuditRetention is how long an audit event stays in the hub's state;
	// the same loop purges older ones. 0 keeps them forever.
	AuditRetention time.Duration

	// Webhooks tunes webhook delivery (zero values: the defaults).
	Webhooks WebhookOptions

	// CatalogSync lists the catalog sources (catalog-sync/source) the
	// leader syncs at start and every Interval (0: an hour).
	CatalogSync CatalogSync

	// Portal configures the web portal the replica serves under /ui/
	// (federation/portal): single sign-on, session lifetime. Its Hub, API,
	// Auth and Logger are filled in by New. NoPortal serves the API alone.
	Portal   portal.Config
	NoPortal bool

	// ClusterAPI, if set, runs Cluster API discovery on this replica while
	// it leads (federation/cloud/capi; see clusterapi.go).
	ClusterAPI *ClusterAPIOptions
}

func (c Config) withDefaults() (Config, error) {
	if c.Listener == nil && c.HTTPAddr == "" {
		return c, errors.New("hub: HTTPAddr or Listener is required")
	}
	if len(c.Raft.BootstrapPeers) > 1 && c.InternalSecret == "" {
		return c, errors.New("hub: InternalSecret is required with more than one replica")
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.ForwardApplyWait == 0 {
		c.ForwardApplyWait = DefaultForwardApplyWait
	}
	if c.RetryBackoffMin <= 0 {
		c.RetryBackoffMin = DefaultRetryBackoffMin
	}
	if c.RetryBackoffMax <= 0 {
		c.RetryBackoffMax = DefaultRetryBackoffMax
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.HTTPIdleTimeout <= 0 {
		c.HTTPIdleTimeout = DefaultHTTPIdleTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TLS != nil && c.Raft.TLS == nil && c.Raft.StreamLayer == nil {
		c.Raft.TLS = &raftnode.TLS{Server: c.TLS.RaftServer(), Client: c.TLS.RaftClient()}
	}
	if c.JobRetention < 0 || c.AuditRetention < 0 {
		return c, errors.New("hub: negative JobRetention or AuditRetention")
	}
	c.Webhooks = c.Webhooks.withDefaults()
	if c.PurgeInterval <= 0 {
		c.PurgeInterval = DefaultPurgeInterval
	}
	if c.PurgeBatch <= 0 {
		c.PurgeBatch = DefaultPurgeBatch
	}
	if c.PurgeBatch > state.MaxPurgeBatch {
		return c, fmt.Errorf("hub: PurgeBatch %d above %d", c.PurgeBatch, state.MaxPurgeBatch)
	}
	return c, nil
}
