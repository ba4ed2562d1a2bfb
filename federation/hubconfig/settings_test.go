package hubconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
)

const (
	testSecret = "s3cret-s3cret-s3cret"
	testKey    = "adm-0123456789abcdef"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseBootstrap(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    Bootstrap
		wantErr bool
	}{
		"empty": {in: "", want: Bootstrap{}},
		"self":  {in: "self", want: Bootstrap{Self: true}},
		"three": {
			in: "a=10.0.0.1:7000=http://10.0.0.1:8080, b=10.0.0.2:7000=10.0.0.2:8080,c=h3:7000=https://h3:8443",
			want: Bootstrap{Peers: []Peer{{"a", "10.0.0.1:7000", "http://10.0.0.1:8080"},
				{"b", "10.0.0.2:7000", "10.0.0.2:8080"}, {"c", "h3:7000", "https://h3:8443"}}},
		},
		"missing api": {in: "a=10.0.0.1:7000", wantErr: true},
		"just an id":  {in: "a", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseBootstrap(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	yamlFile := writeFile(t, "hub.yaml", `
id: hub1
data_dir: /var/lib/flotilla
http_addr: 10.0.0.2:8080
raft_bind: 0.0.0.0:7000
bootstrap:
  - {id: hub0, raft: "10.0.0.1:7000", api: "http://10.0.0.1:8080"}
  - "hub1=10.0.0.2:7000=10.0.0.2:8080"
admin_user: root
write_timeout: 20s
`)
	jsonFile := writeFile(t, "hub.json", `{"id": "hub0", "data_dir": "/d", "bootstrap": "self", "log_level": "debug"}`)
	retentionFile := writeFile(t, "retention.yaml", "id: hub0\ndata_dir: /d\nbootstrap: self\njob_retention: 48h\n")
	dur := func(d time.Duration) *Duration { v := Duration(d); return &v }
	week, quarter := dur(DefaultJobRetention), dur(DefaultAuditRetention)
	secretFile := writeFile(t, "secret", testSecret+"\n")
	cert, key, ca := tlsFiles(t)
	tests := map[string]struct {
		args []string
		env  map[string]string
		want func(s *Settings)
	}{
		"flags only, single replica, plaintext on loopback": {
			args: []string{"-id", "hub0", "-data-dir", "/d", "-bootstrap", "self", "-insecure-http", "-http-addr", "127.0.0.1:8080"},
			want: func(s *Settings) {
				*s = Settings{ID: "hub0", DataDir: "/d", Bootstrap: Bootstrap{Self: true},
					HTTPAddr: "127.0.0.1:8080", RaftBind: DefaultRaftBind, InsecureHTTP: true,
					RaftAdvertise: "127.0.0.1:7000", APIAdvertise: "http://127.0.0.1:8080", JobRetention: week, AuditRetention: quarter}
			},
		},
		"job retention off by flag": {
			args: []string{"-id", "hub0", "-data-dir", "/d", "-bootstrap", "self", "-insecure-http", "-http-addr", "127.0.0.1:8080",
				"-job-retention", "0"},
			want: func(s *Settings) {
				*s = Settings{ID: "hub0", DataDir: "/d", Bootstrap: Bootstrap{Self: true},
					HTTPAddr: "127.0.0.1:8080", RaftBind: DefaultRaftBind, InsecureHTTP: true,
					RaftAdvertise: "127.0.0.1:7000", APIAdvertise: "http://127.0.0.1:8080", JobRetention: dur(0), AuditRetention: quarter}
			},
		},
		"job retention from the file": {
			args: []string{"-config", retentionFile, "-insecure-http", "-http-addr", "127.0.0.1:8080"},
			want: func(s *Settings) {
				*s = Settings{ID: "hub0", DataDir: "/d", Bootstrap: Bootstrap{Self: true},
					HTTPAddr: "127.0.0.1:8080", RaftBind: DefaultRaftBind, InsecureHTTP: true,
					RaftAdvertise: "127.0.0.1:7000", APIAdvertise: "http://127.0.0.1:8080", JobRetention: dur(48 * time.Hour), AuditRetention: quarter}
			},
		},
		"job retention flag over the file": {
			args: []string{"-config", retentionFile, "-insecure-http", "-http-addr", "127.0.0.1:8080", "-job-retention", "1h"},
			want: func(s *Settings) {
				*s = Settings{ID: "hub0", DataDir: "/d", Bootstrap: Bootstrap{Self: true},
					HTTPAddr: "127.0.0.1:8080", RaftBind: DefaultRaftBind, InsecureHTTP: true,
					RaftAdvertise: "127.0.0.1:7000", APIAdvertise: "http://127.0.0.1:8080", JobRetention: dur(time.Hour), AuditRetention: quarter}
			},
		},
		"batch image flag over the file": {
			args: []string{"-config", writeFile(t, "batch.yaml", "id: hub0\ndata_dir: /d\nbootstrap: self\nbatch_image: debian:stable\n"),
				"-insecure-http", "-http-addr", "127.0.0.1:8080", "-batch-image", "ubuntu:24.04"},
			want: func(s *Settings) {
				*s = Settings{ID: "hub0", DataDir: "/d", Bootstrap: Bootstrap{Self: true},
					HTTPAddr: "127.0.0.1:8080", RaftBind: DefaultRaftBind, InsecureHTTP: true, BatchImage: "ubuntu:24.04",
					RaftAdvertise: "127.0.0.1:7000", APIAdvertise: "http://127.0.0.1:8080", JobRetention: week, AuditRetention: quarter}
			},
		},
		"private catalog from the file": {
			args: []string{"-config", writeFile(t, "private.yaml", "id: hub0\ndata_dir: /d\nbootstrap: self\nprivate_catalog: true\n"),
				"-insecure-http", "-http-addr", "127.0.0.1:8080"},
			want: func(s *Settings) {
				*s = Settings{ID: "hub0", DataDir: "/d", Bootstrap: Bootstrap{Self: true},
					HTTPAddr: "127.0.0.1:8080", RaftBind: DefaultRaftBind, InsecureHTTP: true, PrivateCatalog: true,
					RaftAdvertise: "127.0.0.1:7000", APIAdvertise: "http://127.0.0.1:8080", JobRetention: week, AuditRetention: quarter}
			},
		},
		"private catalog flag": {
			args: []string{"-id", "hub0", "-data-dir", "/d", "-bootstrap", "self", "-insecure-http", "-http-addr", "127.0.0.1:8080", "-private-catalog"},
			want: func(s *Settings) {
				*s = Settings{ID: "hub0", DataDir: "/d", Bootstrap: Bootstrap{Self: true},
					HTTPAddr: "127.0.0.1:8080", RaftBind: DefaultRaftBind, InsecureHTTP: true, PrivateCatalog: true,
					RaftAdvertise: "127.0.0.1:7000", APIAdvertise: "http://127.0.0.1:8080", JobRetention: week, AuditRetention: quarter}
			},
		},
		"batch image from the file": {
			args: []string{"-config", writeFile(t, "batch2.yaml", "id: hub0\ndata_dir: /d\nbootstrap: self\nbatch_image: debian:stable\n"),
				"-insecure-http", "-http-addr", "127.0.0.1:8080"},
			want: func(s *Settings) {
				*s = Settings{ID: "hub0", DataDir: "/d", Bootstrap: Bootstrap{Self: true},
					HTTPAddr: "127.0.0.1:8080", RaftBind: DefaultRaftBind, InsecureHTTP: true, BatchImage: "debian:stable",
					RaftAdvertise: "127.0.0.1:7000", APIAdvertise: "http://127.0.0.1:8080", JobRetention: week, AuditRetention: quarter}
			},
		},
		"flags only, TLS": {
			args: []string{"-id", "hub0", "-data-dir", "/d", "-bootstrap", "self", "-tls-cert", cert, "-tls-key", key, "-client-ca", ca},
			want: func(s *Settings) {
				*s = Settings{ID: "hub0", DataDir: "/d", Bootstrap: Bootstrap{Self: true},
					HTTPAddr: DefaultHTTPAddr, RaftBind: DefaultRaftBind, TLSCert: cert, TLSKey: key, ClientCA: ca,
					RaftAdvertise: "127.0.0.1:7000", APIAdvertise: "https://127.0.0.1:8080", JobRetention: week, AuditRetention: quarter}
			},
		},
		"yaml file, flag overrides, secrets from file and env": {
			args: []string{"-config", yamlFile, "-write-timeout", "30s", "-internal-secret-file", secretFile,
				"-tls-cert", cert, "-tls-key", key, "-client-ca", ca},
			env: map[string]string{EnvAdminAPIKey: testKey},
			want: func(s *Settings) {
				*s = Settings{ID: "hub1", DataDir: "/var/lib/flotilla", HTTPAddr: "10.0.0.2:8080",
					RaftBind: "0.0.0.0:7000", RaftAdvertise: "10.0.0.2:7000", APIAdvertise: "https://10.0.0.2:8080",
					TLSCert: cert, TLSKey: key, ClientCA: ca,
					Bootstrap: Bootstrap{Peers: []Peer{{"hub0", "10.0.0.1:7000", "https://10.0.0.1:8080"},
						{"hub1", "10.0.0.2:7000", "https://10.0.0.2:8080"}}},
					AdminUser: "root", WriteTimeout: Duration(30e9), InternalSecretFile: secretFile,
					InternalSecret: testSecret, AdminAPIKey: testKey, JobRetention: week, AuditRetention: quarter}
			},
		},
		"raft tuning from flags": {
			args: []string{"-id", "hub0", "-data-dir", "/d", "-bootstrap", "self", "-insecure-http", "-http-addr", "127.0.0.1:8080",
				"-raft-heartbeat-timeout", "2s",
				"-raft-election-timeout", "3s", "-raft-leader-lease-timeout", "1s", "-snapshot-interval", "30s",
				"-snapshot-threshold", "4096", "-trailing-logs", "8192", "-wal-segment-size", "1048576"},
			want: func(s *Settings) {
				*s = Settings{ID: "hub0", DataDir: "/d", Bootstrap: Bootstrap{Self: true},
					HTTPAddr: "127.0.0.1:8080", RaftBind: DefaultRaftBind, InsecureHTTP: true,
					RaftAdvertise: "127.0.0.1:7000", APIAdvertise: "http://127.0.0.1:8080",
					RaftHeartbeatTimeout: Duration(2e9), RaftElectionTimeout: Duration(3e9),
					RaftLeaderLeaseTimeout: Duration(1e9), SnapshotInterval: Duration(30e9),
					SnapshotThreshold: 4096, TrailingLogs: 8192, WALSegmentSize: 1 << 20, JobRetention: week, AuditRetention: quarter}
			},
		},
		"json file, admin password defaults the user": {
			args: []string{"-config", jsonFile, "-http-addr", "127.0.0.1:9000", "-insecure-http"},
			env:  map[string]string{EnvAdminPassword: "pw"},
			want: func(s *Settings) {
				*s = Settings{ID: "hub0", DataDir: "/d", Bootstrap: Bootstrap{Self: true}, LogLevel: "debug",
					HTTPAddr: "127.0.0.1:9000", RaftBind: DefaultRaftBind, RaftAdvertise: "127.0.0.1:7000", InsecureHTTP: true,
					APIAdvertise: "http://127.0.0.1:9000", AdminUser: DefaultAdminUser, AdminPassword: "pw", JobRetention: week, AuditRetention: quarter}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Load(tc.args, envOf(tc.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			want := &Settings{}
			tc.want(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	badKey := writeFile(t, "bad.yaml", "id: hub0\ndata_dir: /d\nbootstrap: self\nadmin_pasword: x\n")
	inline := writeFile(t, "inline.yaml", "id: hub0\ndata_dir: /d\nbootstrap: self\ninternal_secret: x\n")
	empty := writeFile(t, "empty", "\n")
	secret := writeFile(t, "secret", testSecret)
	three := "a=10.0.0.1:7000=10.0.0.1:8080,b=10.0.0.2:7000=10.0.0.2:8080,c=10.0.0.3:7000=10.0.0.3:8080"
	base := []string{"-id", "a", "-data-dir", "/d"}
	tests := map[string]struct {
		args    []string
		env     map[string]string
		wantErr string
	}{
		"no id":                      {args: []string{"-data-dir", "/d", "-bootstrap", "self"}, wantErr: "id is required"},
		"no data dir":                {args: []string{"-id", "a", "-bootstrap", "self"}, wantErr: "data dir is required"},
		"neither bootstrap nor join": {args: base, wantErr: "one of -bootstrap or -join"},
		"both bootstrap and join": {args: append(base, "-bootstrap", "self", "-join", "http://10.0.0.1:8080"),
			wantErr: "exclude each other"},
		"self missing from peers": {args: []string{"-id", "z", "-data-dir", "/d", "-bootstrap", three},
			env: map[string]string{EnvInternalSecret: testSecret}, wantErr: `"z" is not in the list`},
		"duplicate peer": {args: append(base, "-bootstrap", "a=10.0.0.1:7000=10.0.0.1:8080,b=10.0.0.1:7000=10.0.0.2:8080"),
			env: map[string]string{EnvInternalSecret: testSecret}, wantErr: "listed twice"},
		"unspecified peer address": {args: append(base, "-bootstrap", "a=0.0.0.0:7000=10.0.0.1:8080"),
			wantErr: "not an address peers can dial"},
		"three replicas without secret": {args: append(base, "-bootstrap", three), wantErr: "internal secret is required"},
		"short secret": {args: append(base, "-bootstrap", three), env: map[string]string{EnvInternalSecret: "short"},
			wantErr: "at least 16 bytes"},
		"secret in file and env": {args: append(base, "-bootstrap", "self", "-internal-secret-file", secret),
			env: map[string]string{EnvInternalSecret: testSecret}, wantErr: "use one"},
		"empty secret file": {args: append(base, "-bootstrap", "self", "-internal-secret-file", empty),
			wantErr: "is empty"},
		"advertise differs from entry": {args: append(base, "-bootstrap", three, "-raft-advertise", "10.0.0.9:7000"),
			env: map[string]string{EnvInternalSecret: testSecret}, wantErr: "differs"},
		"admin user without credentials": {args: append(base, "-bootstrap", "self", "-admin-user", "root"),
			wantErr: "needs a password or API key"},
		"short admin key": {args: append(base, "-bootstrap", "self"), env: map[string]string{EnvAdminAPIKey: "k"},
			wantErr: "admin API key"},
		"join without secret": {args: append(base, "-join", "10.0.0.1:8080", "-raft-advertise", "10.0.0.4:7000",
			"-api-advertise", "10.0.0.4:8080"), wantErr: "internal secret is required"},
		"join without advertised addresses": {args: append(base, "-join", "10.0.0.1:8080"),
			env: map[string]string{EnvInternalSecret: testSecret}, wantErr: "set -raft-advertise"},
		"join own api": {args: append(base, "-join", "10.0.0.4:8080", "-raft-advertise", "10.0.0.4:7000",
			"-api-advertise", "10.0.0.4:8080"), env: map[string]string{EnvInternalSecret: testSecret}, wantErr: "own API"},
		"unknown config key":       {args: []string{"-config", badKey}, wantErr: "unknown field"},
		"inline secret in config":  {args: []string{"-config", inline}, wantErr: "unknown field"},
		"missing config file":      {args: []string{"-config", "/nonexistent/hub.yaml"}, wantErr: "no such file"},
		"bad flag":                 {args: []string{"-nope"}, wantErr: "not defined"},
		"stray argument":           {args: append(base, "-bootstrap", "self", "extra"), wantErr: "unexpected argument"},
		"bad log level":            {args: append(base, "-bootstrap", "self", "-log-level", "loud"), wantErr: "log level"},
		"bad write timeout":        {args: append(base, "-write-timeout", "soon"), wantErr: "duration"},
		"bad join url":             {args: append(base, "-join", "ftp://x:1"), wantErr: "join"},
		"bad log store":            {args: append(base, "-bootstrap", "self", "-log-store", "rocks"), wantErr: `log store "rocks"`},
		"http addr without a port": {args: append(base, "-bootstrap", "self", "-http-addr", "localhost"), wantErr: "http addr"},
		"election below heartbeat": {args: append(base, "-bootstrap", "self", "-raft-heartbeat-timeout", "2s"),
			wantErr: "election timeout 1s is shorter than the heartbeat timeout 2s"},
		"lease above heartbeat": {args: append(base, "-bootstrap", "self", "-raft-leader-lease-timeout", "3s"),
			wantErr: "leader lease timeout 3s is longer"},
		"few trailing logs": {args: append(base, "-bootstrap", "self", "-snapshot-threshold", "1000", "-trailing-logs", "10"),
			wantErr: "keep at least half"},
		"tiny wal segments": {args: append(base, "-bootstrap", "self", "-wal-segment-size", "100"), wantErr: "wal segment size"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(tc.args, envOf(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			for _, s := range []string{testSecret, testKey} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows a secret", err)
				}
			}
		})
	}
}

func TestLoadHelp(t *testing.T) {
	var out bytes.Buffer
	if _, err := Load([]string{"-h"}, envOf(nil), &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "-bootstrap") || !strings.Contains(out.String(), EnvInternalSecret) {
		t.Errorf("usage lacks flags or environment:\n%s", out.String())
	}
}

func TestSecretsNeverShow(t *testing.T) {
	s, err := Load(append([]string{"-id", "a", "-data-dir", "/d", "-bootstrap", "self"}, tlsFlags(t)...),
		envOf(map[string]string{EnvInternalSecret: testSecret, EnvAdminAPIKey: testKey, EnvAdminPassword: "pa55word-pa55word"}),
		io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("start", "settings", s)
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", s), "%+v": fmt.Sprintf("%+v", s), "%#v": fmt.Sprintf("%#v", s),
		"json": string(js), "slog": logged.String(),
	}
	for how, out := range outputs {
		for _, secret := range []string{testSecret, testKey, "pa55word-pa55word"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output shows a secret: %s", how, out)
			}
		}
	}
	if s.InternalSecret.Reveal() != testSecret {
		t.Errorf("Reveal = %q", s.InternalSecret.Reveal())
	}
}

func TestHubConfig(t *testing.T) {
	three := "a=10.0.0.1:7000=10.0.0.1:8080,b=10.0.0.2:7000=10.0.0.2:8080,c=10.0.0.3:7000=https://c.example:8443"
	s, err := Load(append([]string{"-id", "b", "-data-dir", "/d", "-bootstrap", three, "-raft-bind", ":7000", "-admin-user", "root", "-log-store", "bolt"}, tlsFlags(t)...),
		envOf(map[string]string{EnvInternalSecret: testSecret, EnvAdminAPIKey: testKey}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.HubConfig(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc := cfg.Raft
	if rc.ID != "b" || rc.BindAddr != ":7000" || rc.AdvertiseAddr != "10.0.0.2:7000" || rc.DataDir != "/d" ||
		rc.APIAddress != "https://10.0.0.2:8080" || rc.LogStore != "bolt" {
		t.Errorf("raft config = %+v", rc)
	}
	wantPeers := []raftnode.Server{
		{Suffrage: raftnode.Voter, ID: "a", Address: "10.0.0.1:7000"},
		{Suffrage: raftnode.Voter, ID: "b", Address: "10.0.0.2:7000"},
		{Suffrage: raftnode.Voter, ID: "c", Address: "10.0.0.3:7000"},
	}
	if diff := cmp.Diff(wantPeers, rc.BootstrapPeers); diff != "" {
		t.Errorf("bootstrap peers (-want +got)\n%s", diff)
	}
	wantAPI := map[raftnode.ServerID]string{"a": "https://10.0.0.1:8080", "b": "https://10.0.0.2:8080", "c": "https://c.example:8443"}
	if diff := cmp.Diff(wantAPI, rc.PeerAPI); diff != "" {
		t.Errorf("peer API (-want +got)\n%s", diff)
	}
	if cfg.InternalSecret != testSecret || cfg.HTTPAddr != DefaultHTTPAddr {
		t.Errorf("secret or http addr not carried over")
	}
	if cfg.JobRetention != DefaultJobRetention {
		t.Errorf("job retention %v, want the default %v", cfg.JobRetention, DefaultJobRetention)
	}
	if cfg.Dispatch == nil {
		t.Errorf("dispatcher not configured")
	}
	if b := cfg.Auth.Bootstrap; b == nil || b.Username != "root" || b.APIKey != testKey || b.Password != "" {
		t.Errorf("bootstrap admin not carried over")
	}

	self, err := Load([]string{"-id", "x", "-data-dir", "/d", "-bootstrap", "self", "-http-addr", "127.0.0.1:0", "-insecure-http"}, envOf(nil), io.Discard)
	if err == nil {
		t.Fatalf("port 0 accepted as an advertised API address: %+v", self)
	}

	j, err := Load(append([]string{"-id", "d", "-data-dir", "/d", "-join", "10.0.0.1:8080", "-raft-advertise", "10.0.0.4:7000",
		"-api-advertise", "10.0.0.4:8080"}, tlsFlags(t)...), envOf(map[string]string{EnvInternalSecret: testSecret}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if j.Join != "https://10.0.0.1:8080" {
		t.Errorf("join = %q", j.Join)
	}
	jc, err := j.HubConfig(nil, nil)
	if err != nil {
		t.Fatalf("HubConfig with join: %v", err)
	}
	// A joining replica bootstraps nothing and knows only its own API
	// address (raftnode adds it); the others come from the replica directory.
	if jr := jc.Raft; len(jr.BootstrapPeers) != 0 || len(jr.PeerAPI) != 0 || jr.APIAddress != "https://10.0.0.4:8080" ||
		jr.AdvertiseAddr != "10.0.0.4:7000" || jc.InternalSecret != testSecret {
		t.Errorf("raft config with join = %+v", jr)
	}
}

func TestLoggers(t *testing.T) {
	s := &Settings{ID: "a", LogFormat: "json", LogLevel: "warn"}
	var out bytes.Buffer
	l, rl, err := s.Loggers(&out)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown")
	rl.Info("raft hidden")
	rl.Warn("raft shown")
	got := out.String()
	if strings.Contains(got, "hidden") || !strings.Contains(got, `"msg":"shown"`) ||
		!strings.Contains(got, `"msg":"raft shown","replica":"a","logger":"raft"`) {
		t.Errorf("log output (raft's lines through the hub's JSON handler):\n%s", got)
	}
	// No format given, not a terminal: JSON.
	out.Reset()
	l, _, err = (&Settings{ID: "b"}).Loggers(&out)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hello")
	if !strings.HasPrefix(out.String(), `{"time":`) {
		t.Errorf("default format off a terminal: %s", out.String())
	}
}

func FuzzParseBootstrap(f *testing.F) {
	for _, s := range []string{"", "self", "a=h:1=http://h:2", "a=h:1=h:2,b=g:1=g:2", "a==", "=,="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBootstrap(s)
		if err != nil {
			return
		}
		again, err := ParseBootstrap(b.String())
		if err != nil {
			t.Fatalf("String() %q of %q does not parse: %v", b.String(), s, err)
		}
		if diff := cmp.Diff(b, again); diff != "" && !strings.ContainsAny(s, " \t\n\r\v\f") {
			t.Fatalf("round trip of %q (-first +second)\n%s", s, diff)
		}
	})
}
