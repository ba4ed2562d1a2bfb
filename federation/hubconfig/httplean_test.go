package hubconfig

import (
	"io"
	"testing"
)

// TestHTTPLeanFlag: the lean server path is on unless -http-lean=false
// (or "http_lean": false in the file) turns it off.
func TestHTTPLeanFlag(t *testing.T) {
	base := []string{"-id", "x", "-data-dir", "/d", "-bootstrap", "self", "-http-addr", "127.0.0.1:8080", "-insecure-http"}
	for name, tc := range map[string]struct {
		args   []string
		noLean bool
	}{
		"default":          {nil, false},
		"-http-lean":       {[]string{"-http-lean"}, false},
		"-http-lean=true":  {[]string{"-http-lean=true"}, false},
		"-http-lean=false": {[]string{"-http-lean=false"}, true},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := Load(append(append([]string(nil), base...), tc.args...), envOf(nil), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := s.HubConfig(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.NoLeanHTTP != tc.noLean {
				t.Errorf("NoLeanHTTP = %v, want %v", cfg.NoLeanHTTP, tc.noLean)
			}
		})
	}
	if _, err := Load(append(append([]string(nil), base...), "-http-lean=maybe"), envOf(nil), io.Discard); err == nil {
		t.Error("-http-lean=maybe accepted")
	}
}
