package agent

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/internal/version"
)

func TestParseWeights(t *testing.T) {
	got, err := ParseWeights(" cpu=1, nvidia.com/gpu=8,memory=0.5 ")
	if err != nil || got["cpu"] != 1 || got["nvidia.com/gpu"] != 8 || got["memory"] != 0.5 || len(got) != 3 {
		t.Fatalf("ParseWeights = %v, %v", got, err)
	}
	for _, bad := range []string{"cpu", "cpu=x", "=1", "cpu=-1"} {
		if _, err := ParseWeights(bad); err == nil {
			t.Errorf("ParseWeights(%q) accepted", bad)
		}
	}
	if w, err := ParseWeights(""); w != nil || err != nil {
		t.Errorf("empty: %v %v", w, err)
	}
}

func TestParseTolerations(t *testing.T) {
	got, err := ParseTolerations("flotilla.io/pool=hpc:NoSchedule, dedicated:NoExecute")
	if err != nil || len(got) != 2 || got[0].Key != "flotilla.io/pool" || got[0].Value != "hpc" || got[0].Operator != "Equal" ||
		got[1].Key != "dedicated" || got[1].Operator != "Exists" || got[1].Effect != "NoExecute" {
		t.Fatalf("ParseTolerations = %+v, %v", got, err)
	}
	for _, bad := range []string{"x", "x=y", "x=y:Never", ":NoSchedule"} {
		if _, err := ParseTolerations(bad); err == nil {
			t.Errorf("ParseTolerations(%q) accepted", bad)
		}
	}
}

// TestFlagsRefuseBadWalls: a namespace prefix that cannot start a DNS
// label and a CIDR that is not one are refused before the agent starts.
func TestFlagsRefuseBadWalls(t *testing.T) {
	for name, f := range map[string]Flags{
		"prefix with capitals": {NamespacePrefix: "Flotilla"},
		"prefix too long":      {NamespacePrefix: strings.Repeat("p", 31)},
		"egress allow":         {NamespacePrefix: "flotilla", EgressAllow: "10.0.0.0/8,license-server"},
		"egress deny":          {NamespacePrefix: "flotilla", EgressDeny: "300.1.1.1/32"},
		"node cidrs":           {NamespacePrefix: "flotilla", NodeCIDRs: "10.0.0.0/33"},
	} {
		if _, err := f.Config(func(string) string { return "" }, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestFlagsImages: the init and filer images the agent deploys default to
// the build's version (never :latest) and the flags override them; both
// reach the cluster half's configuration through Config.Adjust.
func TestFlagsImages(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	const kc = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`
	if err := os.WriteFile(kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	images := func(t *testing.T, args ...string) (initImage, filerImage string) {
		t.Helper()
		var f Flags
		fs := flag.NewFlagSet("agent", flag.ContinueOnError)
		f.Register(fs, func(string) string { return "" })
		if err := fs.Parse(append([]string{"-kubeconfig", kubeconfig}, args...)); err != nil {
			t.Fatal(err)
		}
		cfg, err := f.Config(func(string) string { return "" }, nil)
		if err != nil {
			t.Fatal(err)
		}
		var cc ClusterConfig
		cfg.Adjust(&cc)
		return cc.Runtime.InitImage, cc.Filer.Image
	}
	i, f := images(t)
	if i != version.Image("flotilla-init") || f != version.Image("flotilla-filer") {
		t.Errorf("defaults: init %q, filer %q; want the build's version %q", i, f, version.Tag())
	}
	i, f = images(t, "-init-image", "reg.example/init:v1", "-filer-image", "reg.example/filer:v2")
	if i != "reg.example/init:v1" || f != "reg.example/filer:v2" {
		t.Errorf("flags: init %q, filer %q", i, f)
	}
}
