package hubconfig

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClusterAPIFlags(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "mgmt.kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: m, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: m, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"-id", "a", "-data-dir", dir, "-bootstrap", "self", "-insecure-http", "-http-addr", "127.0.0.1:8080", "-raft-bind", "127.0.0.1:7000"}
	env := func(string) string { return "" }

	s, err := Load(append(base, "-capi-kubeconfig", kc, "-capi-selector", "flotilla.io/join=true",
		"-capi-agent-hub-url", "https://hub-a.example,https://hub-b.example", "-capi-resync", "5s"), env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.ClusterAPI.options()
	if err != nil {
		t.Fatal(err)
	}
	if o == nil || o.Management.Host != "https://127.0.0.1:6443" || o.Selector.String() != "flotilla.io/join=true" ||
		strings.Join(o.Agent.HubURLs, ",") != "https://hub-a.example,https://hub-b.example" || o.Resync != 5*time.Second {
		t.Fatalf("options %+v", o)
	}

	// Off without a kubeconfig; refused without a selector or hub URL.
	s, err = Load(base, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := s.ClusterAPI.options(); o != nil || err != nil {
		t.Errorf("without -capi-kubeconfig: %+v, %v", o, err)
	}
	for name, args := range map[string][]string{
		"no selector":  {"-capi-kubeconfig", kc, "-capi-agent-hub-url", "https://h"},
		"bad selector": {"-capi-kubeconfig", kc, "-capi-selector", "a in (", "-capi-agent-hub-url", "https://h"},
		"no hub url":   {"-capi-kubeconfig", kc, "-capi-selector", "a=b"},
	} {
		s, err := Load(append(base, args...), env, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := s.ClusterAPI.options(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
