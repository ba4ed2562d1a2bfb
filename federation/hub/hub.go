// Package hub wires one replica of the Flotilla hub: a raft node
// (raftnode) replicating the fsm's commands into a state store, the
// authenticator, and the HTTP API (api) served on a listener.
//
// Writes go through Hub.Write: on the leader they are applied through
// raft; on a follower they are forwarded to the leader's internal endpoint
// (POST /internal/v1/apply, authenticated by Config.InternalSecret). Both
// retry with bounded backoff while there is no leader, the leader changes
// or leadership is lost mid-write, up to Config.WriteTimeout. Retrying is
// safe because every command the API writes is idempotent: job submissions
// carry an ID stamped by the submitter and a second submission of an ID
// returns the stored job; cancelling a cancelled job returns it; deletes
// that may have happened report success.
//
// Reads use the local store. ConsistentRead makes the next read
// linearizable: the leader confirms its leadership with a quorum and
// returns its commit index (ReadBarrier, forwarded from followers through
// POST /internal/v1/readindex), which the replica applies before reading.
//
// Replicas find each other's API through the replica directory, a
// replicated table of raft id, raft address and API address: every replica
// lists itself there once it is a member (see runReplicaDirectory) and
// feeds the table to its raft node's peer registry, which forwarding
// consults; the static peer map of the configuration is only the initial
// fallback. A new replica joins a running cluster with JoinCluster, which
// calls POST /internal/v1/join on any member: the leader lists it and adds
// it as a non-voter; once it has caught up it asks again and is promoted
// to voter. RemoveReplica takes one out again.
//
// While a replica leads it also runs the dispatcher (Config.Dispatch) and
// the retention of finished jobs (Config.JobRetention): jobs that ended
// longer ago are purged through raft in bounded batches, each leaving an
// accounting record. Agents' status pushes (ReportClusterStatus) apply
// each job report guarded by the job's cluster and number and answer it
// with an outcome: applied, stale or retry.
//
// Every replica serves Prometheus metrics at MetricsPath on its API
// listener, from a registry of its own (metrics.go). Shutdown is graceful:
// a leader hands leadership over, then the API drains, then raft stops.
// RestoreBackup prepares a data directory of a new cluster from a backup
// (GET /v1/snapshot). TuneGC sets the garbage collector as the hub binary
// runs it (gc.go: GOGC 400 and a soft memory limit unless the environment
// sets them).
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/portal"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/state"
)

// Hub is one replica. Its methods are safe for concurrent use.
type Hub struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
	// wall is the real clock of write deadlines (now may be a test's
	// fixed clock; a deadline must pass).
	wall  func() time.Time
	store *state.Store
	node  *raftnode.Node
	authn *auth.Authenticator
	api   *api.Server
	web   *portal.Portal // nil with NoPortal
	srv   *http.Server
	lean  *leanServer // nil when the lean path is off (leanserve.go)
	ln    net.Listener
	fwd   *http.Client
	gates atomic.Pointer[gateView]  // allApply's answers at a replicas table index
	rules atomic.Pointer[rulesView] // the access rules admission reads (jobs.go)

	stopOnce sync.Once
	stopped  chan struct{} // closed by Shutdown or Close
	bgDone   chan struct{} // closed when background work ends
	dispDone chan struct{} // closed when the dispatcher ends
	retDone  chan struct{} // closed when the retention loop ends
	capiDone chan struct{} // closed when Cluster API discovery ends
	hookDone chan struct{} // closed when the webhook loop ends
	catDone  chan struct{} // closed when the catalog sync loop ends
	stopErr  error

	// staticPeers are the peer API addresses from the configuration, the
	// fallback for replicas the replica directory does not list.
	staticPeers map[raftnode.ServerID]string
	// leaving is set while this replica removes itself from the cluster:
	// it must not list itself in the directory again meanwhile.
	leaving  atomic.Bool
	replDone chan struct{} // closed when the replica directory loop ends
	// keys records API keys' last-used times (keyuse.go).
	keys keyUse
	// metrics are the replica's Prometheus series (metrics.go); started
	// is when the replica started.
	metrics *metrics
	started time.Time
	// draining is set once Shutdown began: /readyz answers 503.
	draining atomic.Bool
}

// New starts a replica's raft node and opens its API listener; Run serves
// the API.
func New(cfg Config) (*Hub, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	store, err := state.New()
	if err != nil {
		return nil, err
	}
	authn, err := auth.New(store, cfg.Auth)
	if err != nil {
		return nil, err
	}
	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("hub: listen: %w", err)
		}
	}
	node, err := raftnode.New(cfg.Raft, fsm.New(store), cfg.RaftLogger)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	h := &Hub{
		cfg: cfg, log: cfg.Logger, now: cfg.Now, wall: time.Now, store: store, node: node, authn: authn, ln: ln,
		stopped: make(chan struct{}), bgDone: make(chan struct{}), dispDone: make(chan struct{}), retDone: make(chan struct{}),
		capiDone: make(chan struct{}), hookDone: make(chan struct{}), catDone: make(chan struct{}),
		replDone: make(chan struct{}), staticPeers: maps.Clone(cfg.Raft.PeerAPI),
	}
	h.started = cfg.Now()
	h.metrics = newMetrics(h)
	h.fwd = &http.Client{Transport: cfg.ForwardTransport}
	if h.fwd.Transport == nil {
		t := &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        4 * defaultForwardIdlePerHost,
			MaxIdleConnsPerHost: defaultForwardIdlePerHost,
			IdleConnTimeout:     90 * time.Second,
		}
		if cfg.TLS != nil {
			t.TLSClientConfig = cfg.TLS.PeerClient()
			t.ForceAttemptHTTP2 = true
		}
		h.fwd.Transport = t
	}
	acfg := api.Config{Reads: h, Writes: h, Jobs: h, Leadership: h, Internal: h, Membership: h, Services: h, Now: cfg.Now,
		Auth: authn, InternalSecret: cfg.InternalSecret,
		MaxBodyBytes: cfg.MaxBodyBytes, Limits: cfg.Limits, Logger: cfg.Logger.With("component", "api"),
		BatchImage: cfg.BatchImage, PrivateCatalog: cfg.PrivateCatalog}
	acfg.KeyUsed = h.keyUsed
	if cfg.TLS != nil {
		acfg.PeerCertRequired, acfg.CAPin = true, cfg.TLS.APIPin
	}
	h.api = api.New(acfg)
	h.srv = &http.Server{
		Handler: h.api,
		// Slow or stalled clients cannot hold connections: headers within
		// 10 s, the whole request within a minute, and every reply is
		// written within a deadline the API sets per request (longer for
		// watches); at most 64 KiB of headers.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	if cfg.TLS != nil {
		h.srv.TLSConfig = cfg.TLS.APIServer()
	}
	h.srv.Protocols = serverProtocols(cfg.TLS != nil, cfg.UnencryptedHTTP2)
	if err := h.startPortal(); err != nil {
		_ = ln.Close()
		_ = node.Shutdown()
		return nil, err
	}
	// /metrics beside the API and the portal; every other request counted
	// and timed by its route.
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, h.metrics.handler())
	mux.Handle("/", h.metrics.instrument(h.srv.Handler))
	h.srv.Handler = mux
	if !cfg.NoLeanHTTP && !leanOff() {
		h.lean = newLeanServer(ln, h.srv, h.wall)
	}
	go h.background()
	go h.runDispatch(cfg.Dispatch)
	go h.runRetention()
	go h.runWebhooks()
	go h.runCatalogSync()
	go h.runReplicaDirectory()
	go h.runClusterAPI()
	return h, nil
}

// Run serves the API until ctx ends (then shuts down gracefully) or the
// replica is shut down.
func (h *Hub) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() {
		if h.lean != nil {
			go func() { errc <- h.lean.serve() }()
			errc <- h.srv.Serve(h.lean.handoff)
			return
		}
		if h.srv.TLSConfig != nil {
			errc <- h.srv.ServeTLS(h.ln, "", "") // certificates come from TLSConfig
			return
		}
		errc <- h.srv.Serve(h.ln)
	}()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), defaultShutdownGrace)
		defer cancel()
		return h.Shutdown(sctx)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			<-h.stopped
			return nil
		}
		_ = h.Close()
		return err
	}
}

// Shutdown stops the replica gracefully: a leader first hands leadership
// to another voter; then watches and event streams end at once (their
// clients resume on another replica from the index they saw), the API
// stops accepting connections and the other requests in flight finish
// (until ctx ends: then they are cut), with raft
// still running so that their writes complete or forward; then the
// background loops and the raft node stop. It does not leave the raft
// configuration. Clients move to the other replicas (connection refused)
// and retry there with the same idempotency keys.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.draining.Store(true)
	leader := h.node.IsLeader()
	if err := h.node.TransferLeadership(); err != nil {
		h.log.Warn("handing leadership over before shutdown", "error", err)
	} else if leader && !h.node.IsLeader() {
		h.log.Info("shutting down: leadership handed over, draining requests")
	} else {
		h.log.Info("shutting down: draining requests")
	}
	// Watches, /v1/events streams and the portal's event streams end: the
	// drain need not wait for them.
	h.api.Drain()
	if h.web != nil {
		h.web.Stop()
	}
	var httpErr error
	if h.lean != nil {
		h.lean.beginShutdown() // the lean connections' drain runs beside net/http's
	}
	if err := h.srv.Shutdown(ctx); err != nil {
		httpErr = errors.Join(err, h.srv.Close())
	}
	if h.lean != nil {
		if err := h.lean.wait(ctx); err != nil {
			httpErr = errors.Join(httpErr, err)
		}
	}
	return h.stop(func() error { return httpErr })
}

// Close stops the replica abruptly: connections are dropped and raft stops.
func (h *Hub) Close() error {
	return h.stop(func() error {
		if h.lean != nil {
			h.lean.closeAll()
		}
		return h.srv.Close()
	})
}

func (h *Hub) stop(stopHTTP func() error) error {
	h.stopOnce.Do(func() {
		close(h.stopped)
		httpErr := stopHTTP()
		if errors.Is(httpErr, http.ErrServerClosed) {
			httpErr = nil
		}
		raftErr := h.node.Shutdown()
		<-h.bgDone
		<-h.dispDone
		<-h.retDone
		<-h.capiDone
		<-h.hookDone
		<-h.catDone
		<-h.replDone
		h.fwd.CloseIdleConnections()
		h.stopErr = errors.Join(httpErr, raftErr)
	})
	return h.stopErr
}

// Addr is the API listener's address.
func (h *Hub) Addr() net.Addr { return h.ln.Addr() }

// Handler is the replica's API handler.
func (h *Hub) Handler() http.Handler { return h.api }

// Node is the replica's raft node.
func (h *Hub) Node() *raftnode.Node { return h.node }

// Store is the replica's local state (implements api.Reads).
func (h *Hub) Store() *state.Store { return h.store }

// Auth is the replica's authenticator.
func (h *Hub) Auth() *auth.Authenticator { return h.authn }

// Now is the hub's clock.
func (h *Hub) Now() time.Time { return h.now() }

// LeaderAPI is the current leader's API base URL, "" when unknown.
func (h *Hub) LeaderAPI() string {
	addr, _ := h.node.LeaderAPIAddress()
	return addr
}

// Leader is the current leader's raft id, "" when none is known.
func (h *Hub) Leader() string {
	if h.draining.Load() {
		return "" // shutting down: not ready (see /readyz)
	}
	id, _ := h.node.Leader()
	return string(id)
}

// serverProtocols are the protocols the API listener speaks: HTTP/1.1
// always; HTTP/2 negotiated by ALPN over TLS; and over plain TCP, with h2c,
// HTTP/2 with prior knowledge (a client that opens with HTTP/2's preface).
func serverProtocols(withTLS, h2c bool) *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	if withTLS {
		p.SetHTTP2(true)
	} else if h2c {
		p.SetUnencryptedHTTP2(true)
	}
	return p
}
