package install

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/test/proc"
)

// TestImageBuild runs deploy/images/build.sh (what `make images` runs)
// with controlled builders on PATH: without a builder, and with a docker
// client whose engine does not answer, it skips with a message and exits
// 0; with a working one it builds every image, each tagged with VERSION
// (never latest) from its own target, the filer from its own context.
func TestImageBuild(t *testing.T) {
	root, err := proc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "deploy", "images", "build.sh")
	// pathWith makes a PATH holding only what the script needs besides the
	// builders given (name → shell script body).
	pathWith := func(t *testing.T, tools map[string]string) string {
		dir := t.TempDir()
		for _, name := range []string{"bash", "dirname"} {
			real, err := exec.LookPath(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		for name, body := range tools {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/bash\n"+body), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	run := func(t *testing.T, path string) (string, error) {
		cmd := exec.Command(script)
		cmd.Env = []string{"PATH=" + path, "VERSION=v9.8.7-2-gabc1234", "REGISTRY=registry.example/hpc"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	t.Run("no builder: skipped", func(t *testing.T) {
		out, err := run(t, pathWith(t, nil))
		if err != nil || !strings.Contains(out, "images: skipped: no image builder") {
			t.Fatalf("build.sh without a builder: %v\n%s", err, out)
		}
	})
	t.Run("docker client without an engine: skipped", func(t *testing.T) {
		out, err := run(t, pathWith(t, map[string]string{"docker": `[ "$1" = info ] && exit 1; echo "unexpected docker $*"; exit 3`}))
		if err != nil || !strings.Contains(out, "no Docker engine answers") {
			t.Fatalf("build.sh with a docker client and no engine: %v\n%s", err, out)
		}
	})
	t.Run("working builder: every image, tagged with the version", func(t *testing.T) {
		log := filepath.Join(t.TempDir(), "builds")
		path := pathWith(t, map[string]string{"podman": `echo "$*" >> ` + log})
		out, err := run(t, path)
		if err != nil {
			t.Fatalf("build.sh with podman: %v\n%s", err, out)
		}
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		builds := strings.Split(strings.TrimSpace(string(b)), "\n")
		want := map[string]string{
			"flotilla-hub": "--target flotilla-hub", "flotilla-agent": "--target flotilla-agent",
			"flotilla-init": "--target flotilla-init", "flotilla-idmapper": "--target flotilla-idmapper",
			"flotilla": "--target flotilla", "flotilla-filer": "deploy/images/filer/Dockerfile",
		}
		if len(builds) != len(want) {
			t.Fatalf("%d builds, want %d:\n%s", len(builds), len(want), b)
		}
		for name, how := range want {
			tag := "-t registry.example/hpc/" + name + ":v9.8.7-2-gabc1234"
			found := false
			for _, line := range builds {
				if strings.Contains(line, tag+" ") {
					found = strings.Contains(line, how) && strings.Contains(line, "VERSION=v9.8.7-2-gabc1234")
				}
			}
			if !found {
				t.Errorf("no build of %s (%s, tagged %s):\n%s", name, how, tag, b)
			}
		}
		if strings.Contains(string(b), ":latest") {
			t.Errorf("an image is tagged latest:\n%s", b)
		}
	})
}
