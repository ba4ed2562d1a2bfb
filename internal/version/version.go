// Package version holds the version the Flotilla binaries were built with
// and the image references derived from it. The Makefile stamps Version
// (from `git describe`) and, optionally, Registry with -ldflags -X; a plain
// `go build` leaves Version at "dev". Every command prints it with
// -version, and the agent names the images it deploys (flotilla-init, the
// filer) with it, so a cluster never runs a floating tag such as :latest.
package version

import (
	"fmt"
	"runtime"
	"strings"
)

// Set at link time:
//
//	-X github.com/flotilla-hpc/flotilla/internal/version.Version=v0.1.0
//	-X github.com/flotilla-hpc/flotilla/internal/version.Registry=registry.example/flotilla
var (
	// Version is the build's version: a release tag (v0.1.0), a
	// `git describe` of a commit after one (v0.1.0-3-gabc1234), a bare
	// commit (abc1234, with -dirty for uncommitted changes), or "dev".
	Version = "dev"
	// Registry is the image repository prefix the images are pushed to.
	Registry = "ghcr.io/flotilla-hpc"
)

// Image is the reference of the Flotilla image name (e.g. "flotilla-init")
// at this build's version.
func Image(name string) string {
	return strings.TrimRight(Registry, "/") + "/" + name + ":" + Tag()
}

// Tag is Version as an image tag: characters a tag may not hold become
// '-', and a tag starts with a letter, digit or '_'.
func Tag() string {
	b := []byte(Version)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "dev"
	}
	if b[0] == '.' || b[0] == '-' {
		b = append([]byte{'v'}, b...)
	}
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}

// String is the line a command prints for -version:
// "flotilla-hub v0.1.0 (go1.26.8 linux/amd64)".
func String(command string) string {
	return fmt.Sprintf("%s %s (%s %s/%s)", command, Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// IsFlag reports whether arg asks for the version: -version, --version or
// the subcommand "version".
func IsFlag(arg string) bool {
	return arg == "-version" || arg == "--version" || arg == "version"
}
