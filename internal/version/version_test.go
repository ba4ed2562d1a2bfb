package version

import (
	"strings"
	"testing"
)

func TestTagAndImage(t *testing.T) {
	defer func(v, r string) { Version, Registry = v, r }(Version, Registry)
	cases := map[string]struct{ version, want string }{
		"release":       {"v0.1.0", "v0.1.0"},
		"describe":      {"v0.1.0-3-gabc1234-dirty", "v0.1.0-3-gabc1234-dirty"},
		"bare commit":   {"abc1234", "abc1234"},
		"plus metadata": {"v1.2.3+build.7", "v1.2.3-build.7"},
		"leading dash":  {"-x", "v-x"},
		"empty":         {"", "dev"},
	}
	for name, c := range cases {
		Version = c.version
		if got := Tag(); got != c.want {
			t.Errorf("%s: Tag(%q) = %q, want %q", name, c.version, got, c.want)
		}
	}
	Version, Registry = "v0.2.0", "registry.example/hpc/"
	if got, want := Image("flotilla-init"), "registry.example/hpc/flotilla-init:v0.2.0"; got != want {
		t.Errorf("Image = %q, want %q", got, want)
	}
	if s := String("flotilla-hub"); !strings.HasPrefix(s, "flotilla-hub v0.2.0 (go") {
		t.Errorf("String = %q", s)
	}
}
