package hubconfig

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/hashicorp/go-hclog"
)

// Check fills defaults and derived addresses and validates the settings.
// It is idempotent.
func (s *Settings) Check() error {
	if s.ID == "" {
		return errors.New("id is required (-id)")
	}
	if s.DataDir == "" {
		return errors.New("data dir is required (-data-dir)")
	}
	switch s.LogStore {
	case "", raftnode.LogStoreWAL, raftnode.LogStoreBolt:
	default:
		return fmt.Errorf("log store %q: want %q or %q (-log-store)", s.LogStore, raftnode.LogStoreWAL, raftnode.LogStoreBolt)
	}
	if s.HTTPAddr == "" {
		s.HTTPAddr = DefaultHTTPAddr
	}
	if err := checkHostPort(s.HTTPAddr, false); err != nil {
		return fmt.Errorf("http addr: %w", err)
	}
	switch {
	case s.Bootstrap.IsZero() && s.Join == "":
		return errors.New(`one of -bootstrap or -join is required ("-bootstrap self" for a single replica)`)
	case !s.Bootstrap.IsZero() && s.Join != "":
		return errors.New("-bootstrap and -join exclude each other")
	}
	if s.Join != "" {
		j, err := normalizeAPI(s.Join)
		if err != nil {
			return fmt.Errorf("join: %w", err)
		}
		s.Join = j
	}
	if err := s.resolveSelf(); err != nil {
		return err
	}
	if s.Join != "" && s.Join == s.APIAdvertise {
		return fmt.Errorf("join: %s is this replica's own API; give a running member's", s.Join)
	}
	if err := s.checkSecrets(); err != nil {
		return err
	}
	if _, err := parseLevel(s.LogLevel); err != nil {
		return err
	}
	if s.LogFormat != "" && s.LogFormat != "text" && s.LogFormat != "json" {
		return fmt.Errorf("log format %q: want text or json", s.LogFormat)
	}
	if s.JobRetention == nil {
		d := Duration(DefaultJobRetention)
		s.JobRetention = &d
	}
	if s.AuditRetention == nil {
		d := Duration(DefaultAuditRetention)
		s.AuditRetention = &d
	}
	if s.RaftLogLevel != "" && hclog.LevelFromString(s.RaftLogLevel) == hclog.NoLevel {
		return fmt.Errorf("raft log level %q: want trace, debug, info, warn, error or off", s.RaftLogLevel)
	}
	if err := s.checkRaftTuning(); err != nil {
		return err
	}
	return s.checkTLS()
}

// checkRaftTuning applies raft's own rules to the timing settings, with
// raft's defaults standing in for those not set, so a bad combination is
// refused as a setting rather than when raft starts.
func (s *Settings) checkRaftTuning() error {
	or := func(d Duration, def time.Duration) time.Duration {
		if d == 0 {
			return def
		}
		return time.Duration(d)
	}
	hb := or(s.RaftHeartbeatTimeout, time.Second)
	el := or(s.RaftElectionTimeout, time.Second)
	lease := or(s.RaftLeaderLeaseTimeout, hb) // raftnode's default: the heartbeat timeout
	const floor = 5 * time.Millisecond
	switch {
	case s.RateLimit < 0 || s.RateBurst < 0 || s.AddressRateLimit < 0 || s.AddressRateBurst < 0 || s.LoginFailuresPerMinute < 0:
		return errors.New("rate limits must not be negative (0 keeps the default)")
	case s.WALSegmentSize < 0 || (s.WALSegmentSize > 0 && s.WALSegmentSize < 16<<10):
		return fmt.Errorf("wal segment size %d: want at least 16384 bytes", s.WALSegmentSize)
	case hb < floor || el < floor || lease < floor:
		return fmt.Errorf("raft timeouts must be at least %s", floor)
	case el < hb:
		return fmt.Errorf("raft election timeout %s is shorter than the heartbeat timeout %s", el, hb)
	case lease > hb:
		return fmt.Errorf("raft leader lease timeout %s is longer than the heartbeat timeout %s", lease, hb)
	case s.SnapshotThreshold > 0 && s.TrailingLogs > 0 && s.TrailingLogs < s.SnapshotThreshold/2:
		// Not raft's rule: with few trailing logs, a lagging follower or a
		// replica whose newest snapshot is damaged needs a whole snapshot.
		return fmt.Errorf("trailing logs %d: keep at least half the snapshot threshold (%d)", s.TrailingLogs, s.SnapshotThreshold)
	}
	return nil
}

// resolveSelf derives this replica's advertised addresses and checks them
// against its bootstrap entry.
func (s *Settings) resolveSelf() error {
	var self *Peer
	for i := range s.Bootstrap.Peers {
		if s.Bootstrap.Peers[i].ID == s.ID {
			self = &s.Bootstrap.Peers[i]
		}
	}
	if len(s.Bootstrap.Peers) > 0 {
		if err := checkPeers(s.Bootstrap.Peers); err != nil {
			return err
		}
		if self == nil {
			return fmt.Errorf("bootstrap: this replica's id %q is not in the list", s.ID)
		}
	}
	if s.RaftAdvertise == "" {
		switch {
		case self != nil:
			s.RaftAdvertise = self.RaftAddr
		case s.Bootstrap.Self && s.RaftBind != "":
			s.RaftAdvertise = loopbackIfUnspecified(s.RaftBind)
		case s.Bootstrap.Self:
			s.RaftAdvertise = DefaultRaftBind
		default: // joining: peers must be told where to dial
			s.RaftAdvertise = s.RaftBind
		}
	}
	if err := checkHostPort(s.RaftAdvertise, true); err != nil {
		return fmt.Errorf("raft advertise address (set -raft-advertise): %w", err)
	}
	if s.RaftBind == "" {
		// Listen where peers dial, not on every interface.
		s.RaftBind = s.RaftAdvertise
	}
	if err := checkHostPort(s.RaftBind, false); err != nil {
		return fmt.Errorf("raft bind: %w", err)
	}
	if s.APIAdvertise == "" {
		switch {
		case self != nil:
			s.APIAdvertise = self.API
		case s.Bootstrap.Self:
			s.APIAdvertise = loopbackIfUnspecified(s.HTTPAddr)
		default:
			s.APIAdvertise = s.HTTPAddr
		}
	}
	api, err := normalizeAPI(s.APIAdvertise)
	if err != nil {
		return fmt.Errorf("api advertise address (set -api-advertise): %w", err)
	}
	s.APIAdvertise = api
	if self != nil && (self.RaftAddr != s.RaftAdvertise || self.API != s.APIAdvertise) {
		return fmt.Errorf("bootstrap entry of %q (%s, %s) differs from the advertised addresses (%s, %s)",
			s.ID, self.RaftAddr, self.API, s.RaftAdvertise, s.APIAdvertise)
	}
	return nil
}

func (s *Settings) checkSecrets() error {
	if n := len(s.Bootstrap.Peers); (n > 1 || s.Join != "") && s.InternalSecret == "" {
		return fmt.Errorf("an internal secret is required with more than one replica (-internal-secret-file or $%s)", EnvInternalSecret)
	}
	if s.InternalSecret != "" && len(s.InternalSecret) < MinSecretLen {
		return fmt.Errorf("internal secret: want at least %d bytes", MinSecretLen)
	}
	if s.AdminAPIKey != "" && len(s.AdminAPIKey) < MinSecretLen {
		return fmt.Errorf("admin API key: want at least %d bytes", MinSecretLen)
	}
	hasCred := s.AdminPassword != "" || s.AdminAPIKey != ""
	switch {
	case s.AdminUser != "" && !hasCred:
		return fmt.Errorf("admin user %q needs a password or API key ($%s, $%s or their -...-file flags)",
			s.AdminUser, EnvAdminPassword, EnvAdminAPIKey)
	case s.AdminUser == "" && hasCred:
		s.AdminUser = DefaultAdminUser
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// Loggers returns the hub's logger, writing to w in the -log-format (JSON
// by default unless w is a terminal), and raft's logger, whose lines go
// through the hub's logger.
func (s *Settings) Loggers(w io.Writer) (*slog.Logger, hclog.Logger, error) {
	level, err := parseLevel(s.LogLevel)
	if err != nil {
		return nil, nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if useJSON(s.LogFormat, w) {
		h = slog.NewJSONHandler(w, opts)
	}
	raftLevel := hclog.Warn
	if s.RaftLogLevel != "" {
		raftLevel = hclog.LevelFromString(s.RaftLogLevel)
	}
	logger := slog.New(h).With("replica", s.ID)
	return logger, raftLogger(logger, raftLevel), nil
}

// HubConfig turns checked settings into the replica's configuration.
func (s *Settings) HubConfig(logger *slog.Logger, raftLogger hclog.Logger) (hub.Config, error) {
	if err := s.Check(); err != nil {
		return hub.Config{}, err
	}
	rc := raftnode.Config{
		ID: raftnode.ServerID(s.ID), BindAddr: s.RaftBind, AdvertiseAddr: s.RaftAdvertise,
		DataDir: s.DataDir, LogStore: s.LogStore, APIAddress: s.APIAdvertise, PeerAPI: map[raftnode.ServerID]string{},
		HeartbeatTimeout:   time.Duration(s.RaftHeartbeatTimeout),
		ElectionTimeout:    time.Duration(s.RaftElectionTimeout),
		LeaderLeaseTimeout: time.Duration(s.RaftLeaderLeaseTimeout),
		SnapshotInterval:   time.Duration(s.SnapshotInterval),
		SnapshotThreshold:  s.SnapshotThreshold,
		TrailingLogs:       s.TrailingLogs,
		WALSegmentSize:     s.WALSegmentSize,
	}
	// A joining replica has no bootstrap peers and knows only its own API
	// address; it learns the others' from the replica directory.
	peers := s.Bootstrap.Peers
	if s.Bootstrap.Self {
		peers = []Peer{{ID: s.ID, RaftAddr: s.RaftAdvertise, API: s.APIAdvertise}}
	}
	for _, p := range peers {
		rc.BootstrapPeers = append(rc.BootstrapPeers, raftnode.Server{Suffrage: raftnode.Voter,
			ID: raftnode.ServerID(p.ID), Address: raftnode.ServerAddress(p.RaftAddr)})
		rc.PeerAPI[raftnode.ServerID(p.ID)] = p.API
	}
	tlsMaterial, err := s.loadTLS()
	if err != nil {
		return hub.Config{}, err
	}
	limits := api.DefaultLimits
	for _, o := range []struct {
		set  float64
		into *float64
	}{{s.RateLimit, &limits.PerIdentity}, {s.AddressRateLimit, &limits.PerAddress}} {
		if o.set > 0 {
			*o.into = o.set
		}
	}
	for _, o := range []struct {
		set  int
		into *int
	}{{s.RateBurst, &limits.PerIdentityBurst}, {s.AddressRateBurst, &limits.PerAddressBurst},
		{s.LoginFailuresPerMinute, &limits.FailedLoginsPerMinute}} {
		if o.set > 0 {
			*o.into = o.set
		}
	}
	cfg := hub.Config{
		Limits: &limits,
		TLS:    tlsMaterial,
		Raft:   rc, RaftLogger: raftLogger, HTTPAddr: s.HTTPAddr,
		InternalSecret: s.InternalSecret.Reveal(),
		Auth:           auth.Config{SystemTenant: s.SystemTenant},
		WriteTimeout:   time.Duration(s.WriteTimeout),
		Logger:         logger,
		Dispatch: &hub.DispatchOptions{AcceptTimeout: time.Duration(s.AcceptTimeout),
			Interval: time.Duration(s.DispatchInterval)},
		JobRetention:   time.Duration(*s.JobRetention),
		AuditRetention: time.Duration(*s.AuditRetention),
		CatalogSync:    hub.CatalogSync{Sources: s.CatalogSources, Interval: time.Duration(s.CatalogSyncInterval)},
		BatchImage:     s.BatchImage,
		PrivateCatalog: s.PrivateCatalog,
		NoLeanHTTP:     s.HTTPLean != nil && !*s.HTTPLean,
	}
	s.Portal.apply(&cfg.Portal, s.OIDCClientSecret)
	if cfg.ClusterAPI, err = s.ClusterAPI.options(); err != nil {
		return hub.Config{}, err
	}
	if s.AdminUser != "" {
		cfg.Auth.Bootstrap = &auth.BootstrapAdmin{Username: s.AdminUser,
			Password: s.AdminPassword.Reveal(), APIKey: s.AdminAPIKey.Reveal()}
	}
	return cfg, nil
}

// loopbackIfUnspecified replaces an empty or unspecified host with
// 127.0.0.1: a replica alone only ever dials itself.
func loopbackIfUnspecified(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}
