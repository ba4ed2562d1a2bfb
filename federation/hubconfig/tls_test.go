package hubconfig

import (
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// tlsFiles makes a CA and a replica certificate in a temporary directory
// and returns the flags naming them.
func tlsFiles(t *testing.T) (certFile, keyFile, caFile string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := hubtls.NewCA("test-ca", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCA(dir); err != nil {
		t.Fatal(err)
	}
	is, err := ca.Issue("hub", []string{"127.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.4"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err = is.Write(dir, "hub")
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, dir + "/" + hubtls.CACertFile
}

func tlsFlags(t *testing.T) []string {
	c, k, ca := tlsFiles(t)
	return []string{"-tls-cert", c, "-tls-key", k, "-client-ca", ca}
}

// TestTLSSettings: TLS or an explicit -insecure-http on loopback, never
// plaintext by default; API addresses follow the scheme.
func TestTLSSettings(t *testing.T) {
	c, k, ca := tlsFiles(t)
	base := []string{"-id", "a", "-data-dir", "/d", "-bootstrap", "self"}
	errs := map[string]struct {
		args    []string
		wantErr string
	}{
		"neither TLS nor insecure": {args: base, wantErr: "TLS is required"},
		"insecure on all interfaces": {args: append(base, "-insecure-http"),
			wantErr: `-insecure-http serves plaintext on loopback addresses only; http addr ":8080"`},
		"insecure with a public raft address": {args: append(base, "-insecure-http", "-http-addr", "127.0.0.1:8080",
			"-raft-advertise", "10.0.0.1:7000"), wantErr: "is not one"},
		"insecure and TLS":  {args: append(base, "-insecure-http", "-tls-cert", c, "-tls-key", k, "-client-ca", ca), wantErr: "exclude each other"},
		"TLS without CA":    {args: append(base, "-tls-cert", c, "-tls-key", k), wantErr: "needs all of"},
		"peer cert alone":   {args: append(base, "-tls-cert", c, "-tls-key", k, "-client-ca", ca, "-peer-cert", c), wantErr: "go together"},
		"https without TLS": {args: append(base, "-insecure-http", "-http-addr", "127.0.0.1:8080", "-api-advertise", "https://127.0.0.1:8080"), wantErr: "https needs"},
	}
	for name, tc := range errs {
		t.Run(name, func(t *testing.T) {
			_, err := Load(tc.args, envOf(nil), nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
	s, err := Load(append(base, "-tls-cert", c, "-tls-key", k, "-client-ca", ca, "-api-advertise", "http://127.0.0.1:8080"), envOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.APIAdvertise != "https://127.0.0.1:8080" || s.RaftBind != "127.0.0.1:7000" {
		t.Errorf("api advertise %q, raft bind %q", s.APIAdvertise, s.RaftBind)
	}
	cfg, err := s.HubConfig(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS == nil || cfg.TLS.APIPin == "" {
		t.Errorf("TLS material not loaded: %+v", cfg.TLS)
	}
}
