// Package hubconfig reads the settings of one hub replica (cmd/flotilla-hub)
// from command-line flags, an optional JSON or YAML file and the
// environment, checks them and turns them into a hub.Config.
//
// Precedence, lowest first: built-in defaults, the file named by -config,
// flags given on the command line. Secrets (the replicas' shared internal
// secret, the bootstrap administrator's password and API key) come only
// from the environment or from files named in the settings, never from
// flags or inline in the config file, and are never logged: they are held
// as Secret values, which print as "[redacted]".
package hubconfig

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/flotilla-hpc/flotilla/catalog-sync/source"
)

// Environment variables read by Load.
const (
	EnvInternalSecret = "FLOTILLA_INTERNAL_SECRET"
	EnvAdminPassword  = "FLOTILLA_ADMIN_PASSWORD"
	EnvAdminAPIKey    = "FLOTILLA_ADMIN_API_KEY"
)

// Defaults of Settings.
const (
	DefaultHTTPAddr = ":8080"
	// DefaultRaftBind is where raft listens when neither -raft-bind nor an
	// advertised raft address says otherwise: raft binds to the address it
	// advertises, never to every interface by default.
	DefaultRaftBind  = "127.0.0.1:7000"
	DefaultAdminUser = "admin"
	// DefaultJobRetention is how long finished jobs stay in the hub's
	// state when the settings name no retention.
	DefaultJobRetention = 7 * 24 * time.Hour
	// DefaultAuditRetention is how long audit events stay in the hub's
	// state when the settings name no retention.
	DefaultAuditRetention = 90 * 24 * time.Hour
	// MinSecretLen is the shortest internal secret or admin API key accepted.
	MinSecretLen = 16
)

// Settings are one replica's settings. The JSON names are the config
// file's keys (YAML files use the same names).
type Settings struct {
	// ID is the replica's raft id, unique and stable across restarts.
	ID string `json:"id"`
	// RaftBind is the host:port the raft transport listens on.
	RaftBind string `json:"raft_bind,omitempty"`
	// RaftAdvertise is the host:port peers dial; defaults to this
	// replica's bootstrap entry, else RaftBind.
	RaftAdvertise string `json:"raft_advertise,omitempty"`
	// HTTPAddr is the address the API listens on.
	HTTPAddr string `json:"http_addr,omitempty"`
	// APIAdvertise is the base URL of this replica's API as peers reach it
	// (writes are forwarded there); defaults to this replica's bootstrap
	// entry, else http://HTTPAddr.
	APIAdvertise string `json:"api_advertise,omitempty"`
	// DataDir holds the raft log, stable store and snapshots.
	DataDir string `json:"data_dir"`
	// LogStore is the raft log store: "wal" (default for a new data dir)
	// or "bolt"; a data dir keeps the kind it was created with.
	LogStore string `json:"log_store,omitempty"`
	// Bootstrap is the initial voter set, used only on first start (a
	// replica with raft state ignores it).
	Bootstrap Bootstrap `json:"bootstrap,omitzero"`
	// Join is the API URL of a running member to join through: the replica
	// starts raft without a bootstrap configuration, serves its API and asks
	// the cluster (POST /internal/v1/join, with the internal secret) to add
	// it, first as a non-voter and, once it has caught up, as a voter. A
	// replica that is already a voter does not ask again.
	Join string `json:"join,omitempty"`

	// InternalSecretFile names a file holding the replicas' shared secret
	// (else EnvInternalSecret).
	InternalSecretFile string `json:"internal_secret_file,omitempty"`
	// AdminUser is the bootstrap administrator's username; it needs a
	// password or an API key.
	AdminUser string `json:"admin_user,omitempty"`
	// AdminPasswordFile and AdminAPIKeyFile name files holding the
	// bootstrap administrator's password and API key (else
	// EnvAdminPassword, EnvAdminAPIKey).
	AdminPasswordFile string `json:"admin_password_file,omitempty"`
	AdminAPIKeyFile   string `json:"admin_api_key_file,omitempty"`
	// SystemTenant is the tenant whose administrators are global.
	SystemTenant string `json:"system_tenant,omitempty"`

	// LogLevel is debug, info, warn or error; LogFormat is text or json.
	LogLevel  string `json:"log_level,omitempty"`
	LogFormat string `json:"log_format,omitempty"`
	// RaftLogLevel is the level of raft's own logs (hclog names).
	RaftLogLevel string `json:"raft_log_level,omitempty"`
	// WriteTimeout bounds a write and its retries while no leader is
	// reachable; 0 takes the hub's default.
	WriteTimeout Duration `json:"write_timeout,omitempty"`
	// DispatchInterval is the longest gap between placement passes; 0
	// takes the dispatcher's default.
	DispatchInterval Duration `json:"dispatch_interval,omitempty"`
	// AcceptTimeout returns an assignment no agent accepted in time to the
	// queue; 0 never does.
	AcceptTimeout Duration `json:"accept_timeout,omitempty"`
	// JobRetention is how long a finished job stays in the hub's state
	// after it ended; then the leader purges it, keeping its accounting
	// record. Unset means DefaultJobRetention (7 days); 0 keeps finished
	// jobs forever.
	JobRetention *Duration `json:"job_retention,omitempty"`
	// AuditRetention is how long an audit event stays in the hub's state.
	// Unset means DefaultAuditRetention (90 days); 0 keeps events forever.
	AuditRetention *Duration `json:"audit_retention,omitempty"`
	// CatalogSources are the app catalogs the leader syncs (a directory
	// of AppDefs, images:REF[,REF...], hub:URL with key_file), at start
	// and every CatalogSyncInterval (0: an hour). Config file only.
	CatalogSources      []source.Spec `json:"catalog_sources,omitempty"`
	CatalogSyncInterval Duration      `json:"catalog_sync_interval,omitempty"`
	// BatchImage is the container image a job script runs in when its
	// submission names none (flotilla sbatch without --image); "" makes
	// the image required.
	BatchImage string `json:"batch_image,omitempty"`
	// PrivateCatalog makes /jarvice/apps want credentials; by default it
	// lists the public apps to anyone, as JARVICE does.
	PrivateCatalog bool `json:"private_catalog,omitempty"`

	// Raft timing; 0 takes the defaults (heartbeat and election 1 s, the
	// leader lease as long as the heartbeat timeout: raftnode.Config).
	// Replicas far apart or on busy machines want longer ones; give every
	// replica the same values.
	RaftHeartbeatTimeout   Duration `json:"raft_heartbeat_timeout,omitempty"`
	RaftElectionTimeout    Duration `json:"raft_election_timeout,omitempty"`
	RaftLeaderLeaseTimeout Duration `json:"raft_leader_lease_timeout,omitempty"`
	// SnapshotInterval is how often raft checks whether to snapshot and
	// SnapshotThreshold how many new log entries make it do so;
	// TrailingLogs is how many entries a snapshot leaves in the log (for
	// followers that lag). 0 takes raft's defaults (120 s, 8192, 10240).
	SnapshotInterval  Duration `json:"snapshot_interval,omitempty"`
	SnapshotThreshold uint64   `json:"snapshot_threshold,omitempty"`
	TrailingLogs      uint64   `json:"trailing_logs,omitempty"`
	// WALSegmentSize is the size in bytes at which the WAL log store
	// starts a new segment file; 0 takes the default (64 MiB).
	WALSegmentSize int `json:"wal_segment_size,omitempty"`

	// TLSCert and TLSKey are the API's certificate (chain) and key, also
	// the replica's identity towards its peers unless PeerCert is set;
	// ClientCA is the CA whose certificates identify replicas (raft and
	// the internal endpoints run mutual TLS with them). PeerCert and
	// PeerKey, optional, are a separate replica identity for installs
	// whose API certificate comes from another CA. InsecureHTTP serves
	// plain HTTP and plain raft instead, on loopback addresses only.
	TLSCert      string `json:"tls_cert,omitempty"`
	TLSKey       string `json:"tls_key,omitempty"`
	ClientCA     string `json:"client_ca,omitempty"`
	PeerCert     string `json:"peer_cert,omitempty"`
	PeerKey      string `json:"peer_key,omitempty"`
	InsecureHTTP bool   `json:"insecure_http,omitempty"`
	// HTTPLean, false, serves every API request through net/http instead
	// of the lean HTTP/1.1 path for submissions (plain HTTP, and HTTP/1.1
	// over TLS; nil: on, see hub.Config.NoLeanHTTP).
	HTTPLean *bool `json:"http_lean,omitempty"`

	// Rate limits of the API (see api.Limits); 0 keeps the default of
	// each: 200 requests/s per caller (burst 400), 400/s per address
	// before authentication (burst 800), 30 failed logins a minute per
	// address.
	RateLimit              float64 `json:"rate_limit,omitempty"`
	RateBurst              int     `json:"rate_burst,omitempty"`
	AddressRateLimit       float64 `json:"address_rate_limit,omitempty"`
	AddressRateBurst       int     `json:"address_rate_burst,omitempty"`
	LoginFailuresPerMinute int     `json:"login_failures_per_minute,omitempty"`

	// Portal configures the web portal's single sign-on and sessions
	// (config file only; see PortalSettings).
	Portal *PortalSettings `json:"portal,omitempty"`
	// ClusterAPI turns on Cluster API discovery (clusterapi.go).
	ClusterAPI *ClusterAPISettings `json:"cluster_api,omitempty"`

	// Secrets, read from files or the environment.
	OIDCClientSecret Secret `json:"-"`
	InternalSecret   Secret `json:"-"`
	AdminPassword    Secret `json:"-"`
	AdminAPIKey      Secret `json:"-"`
}

// LogValue lists the settings for a startup log line, secrets redacted.
func (s *Settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", s.ID), slog.String("raft_bind", s.RaftBind),
		slog.String("raft_advertise", s.RaftAdvertise), slog.String("http_addr", s.HTTPAddr),
		slog.String("api_advertise", s.APIAdvertise), slog.String("data_dir", s.DataDir), slog.String("log_store", s.LogStore),
		slog.String("bootstrap", s.Bootstrap.String()), slog.String("join", s.Join),
		slog.String("admin_user", s.AdminUser), slog.String("system_tenant", s.SystemTenant),
		slog.String("job_retention", s.JobRetention.String()),
		slog.String("audit_retention", s.AuditRetention.String()),
		slog.Bool("internal_secret_set", s.InternalSecret != ""), slog.Bool("tls", s.tlsOn()),
	)
}

// Load parses args (without the program name) and reads the config file
// and secrets. getenv reads the environment (os.Getenv in main). Usage and
// flag errors are written to out; -h gives flag.ErrHelp. The result is
// checked (Check).
func Load(args []string, getenv func(string) string, out io.Writer) (*Settings, error) {
	fs := flag.NewFlagSet("flotilla-hub", flag.ContinueOnError)
	fs.SetOutput(out)
	var flagged Settings
	configPath := fs.String("config", "", "JSON or YAML config file (flags override it)")
	fs.StringVar(&flagged.ID, "id", "", "raft id of this replica (required)")
	fs.StringVar(&flagged.RaftBind, "raft-bind", "", "raft listen host:port (default "+DefaultRaftBind+")")
	fs.StringVar(&flagged.RaftAdvertise, "raft-advertise", "", "raft host:port peers dial")
	fs.StringVar(&flagged.HTTPAddr, "http-addr", "", "API listen address (default "+DefaultHTTPAddr+")")
	fs.StringVar(&flagged.APIAdvertise, "api-advertise", "", "base URL of this replica's API for peers")
	fs.StringVar(&flagged.DataDir, "data-dir", "", "raft data directory (required)")
	fs.StringVar(&flagged.LogStore, "log-store", "", `raft log store, "wal" or "bolt" (default: what the data dir holds, else wal)`)
	fs.Var(bootstrapFlag{&flagged.Bootstrap}, "bootstrap", `initial replicas: "self" or id=raftaddr=apiaddr,...`)
	fs.StringVar(&flagged.Join, "join", "", "API URL of a running member to join")
	fs.StringVar(&flagged.InternalSecretFile, "internal-secret-file", "", "file with the replicas' shared secret (else $"+EnvInternalSecret+")")
	fs.StringVar(&flagged.AdminUser, "admin-user", "", "bootstrap administrator (default "+DefaultAdminUser+" when a password or key is given)")
	fs.StringVar(&flagged.AdminPasswordFile, "admin-password-file", "", "file with the bootstrap administrator's password (else $"+EnvAdminPassword+")")
	fs.StringVar(&flagged.AdminAPIKeyFile, "admin-api-key-file", "", "file with the bootstrap administrator's API key (else $"+EnvAdminAPIKey+")")
	fs.StringVar(&flagged.SystemTenant, "system-tenant", "", "tenant of the global administrators (default system)")
	fs.StringVar(&flagged.LogLevel, "log-level", "", "debug, info, warn or error (default info)")
	fs.StringVar(&flagged.LogFormat, "log-format", "", "text or json (default json, text on a terminal)")
	fs.StringVar(&flagged.RaftLogLevel, "raft-log-level", "", "level of raft's logs (default warn)")
	fs.Var(&flagged.WriteTimeout, "write-timeout", "bound of a write while no leader is reachable")
	fs.Var(&flagged.DispatchInterval, "dispatch-interval", "longest gap between placement passes")
	fs.Var(&flagged.AcceptTimeout, "accept-timeout", "requeue assignments no agent accepted within this (0: never)")
	fs.Var(optionalDuration{&flagged.JobRetention}, "job-retention", "purge finished jobs this long after they ended, keeping their accounting (0: never; default 168h)")
	fs.StringVar(&flagged.BatchImage, "batch-image", "", "container image of job scripts that name none (flotilla sbatch without --image; default: none, the image is required)")
	fs.BoolVar(&flagged.PrivateCatalog, "private-catalog", false, "/jarvice/apps wants credentials (default: it lists the public apps to callers without any, as JARVICE does)")
	fs.Var(optionalDuration{&flagged.AuditRetention}, "audit-retention", "purge audit events this long after they happened (0: never; default 2160h)")
	fs.Var(&flagged.RaftHeartbeatTimeout, "raft-heartbeat-timeout", "raft heartbeat timeout (default 1s)")
	fs.Var(&flagged.RaftElectionTimeout, "raft-election-timeout", "raft election timeout (default 1s)")
	fs.Var(&flagged.RaftLeaderLeaseTimeout, "raft-leader-lease-timeout", "raft leader lease timeout (default: the heartbeat timeout)")
	fs.Var(&flagged.SnapshotInterval, "snapshot-interval", "how often raft considers a snapshot (default 2m)")
	fs.Uint64Var(&flagged.SnapshotThreshold, "snapshot-threshold", 0, "new log entries that make raft snapshot (default 8192)")
	fs.Uint64Var(&flagged.TrailingLogs, "trailing-logs", 0, "log entries a snapshot leaves behind (default 10240)")
	fs.StringVar(&flagged.TLSCert, "tls-cert", "", "the API's certificate file (PEM chain); also the replica's identity to peers")
	fs.StringVar(&flagged.TLSKey, "tls-key", "", "the key of -tls-cert")
	fs.StringVar(&flagged.ClientCA, "client-ca", "", "CA file whose certificates identify replicas (raft and internal calls use mutual TLS)")
	fs.StringVar(&flagged.PeerCert, "peer-cert", "", "a separate replica identity for raft and internal calls (default -tls-cert)")
	fs.StringVar(&flagged.PeerKey, "peer-key", "", "the key of -peer-cert")
	fs.BoolVar(&flagged.InsecureHTTP, "insecure-http", false, "serve plain HTTP and plain raft, on loopback addresses only (development)")
	fs.Var(optionalBool{&flagged.HTTPLean}, "http-lean", "serve HTTP/1.1 submissions (plain, or over TLS when ALPN chose http/1.1) by the lean server path (default true; false: net/http for everything)")
	fs.Float64Var(&flagged.RateLimit, "rate-limit", 0, "requests a second one caller may make (default 200)")
	fs.IntVar(&flagged.RateBurst, "rate-burst", 0, "burst of -rate-limit (default 400)")
	fs.Float64Var(&flagged.AddressRateLimit, "address-rate-limit", 0, "requests a second from one address before authentication (default 400)")
	fs.IntVar(&flagged.AddressRateBurst, "address-rate-burst", 0, "burst of -address-rate-limit (default 800)")
	fs.IntVar(&flagged.LoginFailuresPerMinute, "login-failures-per-minute", 0, "failed logins one address may make a minute (default 30)")
	fs.IntVar(&flagged.WALSegmentSize, "wal-segment-size", 0, "bytes at which the WAL log store starts a new segment file (default 64 MiB)")
	registerClusterAPIFlags(fs, &flagged)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: flotilla-hub [flags]\n\nSecrets come from files or the environment ($%s, $%s, $%s).\n\nflags:\n",
			EnvInternalSecret, EnvAdminPassword, EnvAdminAPIKey)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	s := &Settings{}
	if *configPath != "" {
		var err error
		if s, err = ReadFile(*configPath); err != nil {
			return nil, err
		}
	}
	var ferr error
	fs.Visit(func(f *flag.Flag) {
		if err := overlay(s, &flagged, f.Name); err != nil && ferr == nil {
			ferr = err
		}
	})
	if ferr != nil {
		return nil, ferr
	}
	if err := s.readSecrets(getenv); err != nil {
		return nil, err
	}
	return s, s.Check()
}

// overlay copies the field of flag name from src to dst.
func overlay(dst, src *Settings, name string) error {
	switch name {
	case "config":
	case "id":
		dst.ID = src.ID
	case "raft-bind":
		dst.RaftBind = src.RaftBind
	case "raft-advertise":
		dst.RaftAdvertise = src.RaftAdvertise
	case "http-addr":
		dst.HTTPAddr = src.HTTPAddr
	case "api-advertise":
		dst.APIAdvertise = src.APIAdvertise
	case "data-dir":
		dst.DataDir = src.DataDir
	case "log-store":
		dst.LogStore = src.LogStore
	case "bootstrap":
		dst.Bootstrap = src.Bootstrap
	case "join":
		dst.Join = src.Join
	case "internal-secret-file":
		dst.InternalSecretFile = src.InternalSecretFile
	case "admin-user":
		dst.AdminUser = src.AdminUser
	case "admin-password-file":
		dst.AdminPasswordFile = src.AdminPasswordFile
	case "admin-api-key-file":
		dst.AdminAPIKeyFile = src.AdminAPIKeyFile
	case "system-tenant":
		dst.SystemTenant = src.SystemTenant
	case "log-level":
		dst.LogLevel = src.LogLevel
	case "log-format":
		dst.LogFormat = src.LogFormat
	case "raft-log-level":
		dst.RaftLogLevel = src.RaftLogLevel
	case "write-timeout":
		dst.WriteTimeout = src.WriteTimeout
	case "dispatch-interval":
		dst.DispatchInterval = src.DispatchInterval
	case "accept-timeout":
		dst.AcceptTimeout = src.AcceptTimeout
	case "job-retention":
		dst.JobRetention = src.JobRetention
	case "audit-retention":
		dst.AuditRetention = src.AuditRetention
	case "batch-image":
		dst.BatchImage = src.BatchImage
	case "private-catalog":
		dst.PrivateCatalog = src.PrivateCatalog
	case "raft-heartbeat-timeout":
		dst.RaftHeartbeatTimeout = src.RaftHeartbeatTimeout
	case "raft-election-timeout":
		dst.RaftElectionTimeout = src.RaftElectionTimeout
	case "raft-leader-lease-timeout":
		dst.RaftLeaderLeaseTimeout = src.RaftLeaderLeaseTimeout
	case "snapshot-interval":
		dst.SnapshotInterval = src.SnapshotInterval
	case "snapshot-threshold":
		dst.SnapshotThreshold = src.SnapshotThreshold
	case "trailing-logs":
		dst.TrailingLogs = src.TrailingLogs
	case "tls-cert":
		dst.TLSCert = src.TLSCert
	case "tls-key":
		dst.TLSKey = src.TLSKey
	case "client-ca":
		dst.ClientCA = src.ClientCA
	case "peer-cert":
		dst.PeerCert = src.PeerCert
	case "peer-key":
		dst.PeerKey = src.PeerKey
	case "insecure-http":
		dst.InsecureHTTP = src.InsecureHTTP
	case "http-lean":
		dst.HTTPLean = src.HTTPLean
	case "rate-limit":
		dst.RateLimit = src.RateLimit
	case "rate-burst":
		dst.RateBurst = src.RateBurst
	case "address-rate-limit":
		dst.AddressRateLimit = src.AddressRateLimit
	case "address-rate-burst":
		dst.AddressRateBurst = src.AddressRateBurst
	case "login-failures-per-minute":
		dst.LoginFailuresPerMinute = src.LoginFailuresPerMinute
	case "wal-segment-size":
		dst.WALSegmentSize = src.WALSegmentSize
	default:
		if overlayClusterAPI(dst, src, name) {
			return nil
		}
		return fmt.Errorf("hubconfig: flag -%s is not mapped to a setting", name)
	}
	return nil
}

// ReadFile reads a JSON or YAML config file strictly: unknown keys are
// errors.
func ReadFile(path string) (*Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return s, nil
}

// Parse reads config file contents (JSON or YAML) strictly.
func Parse(data []byte) (*Settings, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	s := &Settings{}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return s, nil
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return nil, err
	}
	return s, nil
}

// readSecrets fills the secrets from their files or the environment.
func (s *Settings) readSecrets(getenv func(string) string) error {
	for _, sec := range []struct {
		dst        *Secret
		file, env  string
		what, flag string
	}{
		{&s.InternalSecret, s.InternalSecretFile, EnvInternalSecret, "internal secret", "internal-secret-file"},
		{&s.AdminPassword, s.AdminPasswordFile, EnvAdminPassword, "admin password", "admin-password-file"},
		{&s.AdminAPIKey, s.AdminAPIKeyFile, EnvAdminAPIKey, "admin API key", "admin-api-key-file"},
		{&s.OIDCClientSecret, s.Portal.secretFile(), EnvOIDCClientSecret, "OIDC client secret", "portal.oidc_client_secret_file"},
	} {
		fromEnv := getenv(sec.env)
		switch {
		case sec.file != "" && fromEnv != "":
			return fmt.Errorf("%s: both -%s and $%s are set; use one", sec.what, sec.flag, sec.env)
		case sec.file != "":
			b, err := os.ReadFile(sec.file)
			if err != nil {
				return fmt.Errorf("%s: %w", sec.what, err)
			}
			v := strings.TrimRight(string(b), "\r\n")
			if v == "" {
				return fmt.Errorf("%s: file %s is empty", sec.what, sec.file)
			}
			*sec.dst = Secret(v)
		default:
			*sec.dst = Secret(fromEnv)
		}
	}
	return nil
}
