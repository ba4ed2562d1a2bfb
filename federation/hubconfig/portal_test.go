package hubconfig

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestPortalSettings: the portal's OIDC settings come from the config
// file, the client secret from the environment (a secret in the file is
// refused as an unknown field), and reach the hub's configuration.
func TestPortalSettings(t *testing.T) {
	cfgFile := writeFile(t, "hub.yaml", `portal:
  session_ttl: 2h
  oidc:
    issuer: https://login.example.org
    client_id: flotilla
    redirect_url: https://hpc.example.org/ui/oidc/callback
    rules:
    - {name: physicists, email: "*@physics.example.org", tenant: physics}
`)
	s, err := Load([]string{"-config", cfgFile, "-id", "x", "-data-dir", "/d", "-bootstrap", "self", "-http-addr", "127.0.0.1:8080", "-insecure-http"},
		envOf(map[string]string{EnvOIDCClientSecret: "oidc-secret-value"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.HubConfig(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Portal.OIDC
	if o == nil || o.ClientSecret != "oidc-secret-value" || o.Issuer != "https://login.example.org" || len(o.Rules) != 1 ||
		o.Rules[0].Tenant != "physics" || cfg.Portal.SessionTTL != 2*time.Hour {
		t.Fatalf("portal config %+v (oidc %+v)", cfg.Portal, o)
	}
	bad := writeFile(t, "bad.yaml", "portal:\n  oidc:\n    issuer: https://x\n    client_secret: leaked\n")
	if _, err := Load([]string{"-config", bad}, envOf(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "client_secret") {
		t.Errorf("a client secret in the settings file: %v, want refused", err)
	}
}
