package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

// stderrOf runs f with os.Stderr captured and returns what it wrote.
func stderrOf(t *testing.T, f func() int) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	out := make(chan string)
	go func() { b, _ := io.ReadAll(r); out <- string(b) }()
	code := f()
	os.Stderr = old
	w.Close()
	return code, <-out
}

// TestSubcommandUsage: the subcommands' help exits 0 and lists their
// flags; a bad command line exits 2 saying what is wrong, not only the
// usage line (operations.md's backup steps as an operator types them).
func TestSubcommandUsage(t *testing.T) {
	t.Setenv("FLOTILLA_HUB", "")
	cases := map[string]struct {
		args []string
		code int
		says string
	}{
		"snapshot save -h":         {[]string{"snapshot", "save", "-h"}, 0, "-api-key-file"},
		"snapshot save FILE -h":    {[]string{"snapshot", "save", "f", "-h"}, 0, "-ca-file"},
		"snapshot restore -h":      {[]string{"snapshot", "restore", "-h"}, 0, "the same -bootstrap list"},
		"no hub":                   {[]string{"snapshot", "save", "f"}, 2, "give -addr URL[,URL...] or set $FLOTILLA_HUB"},
		"flags before the file":    {[]string{"snapshot", "save", "-addr", "http://h"}, 2, "the backup FILE comes first"},
		"stray argument":           {[]string{"snapshot", "save", "f", "-addr", "http://h", "g"}, 2, `unexpected arguments ["g"]`},
		"unknown flag":             {[]string{"snapshot", "save", "f", "-bogus"}, 2, "flag provided but not defined: -bogus"},
		"no verb":                  {[]string{"snapshot"}, 2, "usage: flotilla-hub snapshot save FILE"},
		"certs ca -h":              {[]string{"certs", "ca", "-h"}, 0, "-dir"},
		"certs issue without name": {[]string{"certs", "issue", "-dir", t.TempDir()}, 2, "usage: flotilla-hub certs"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, stderr := stderrOf(t, func() int {
				if tc.args[0] == "certs" {
					return certs(tc.args[1:])
				}
				return snapshot(tc.args[1:])
			})
			if code != tc.code || !strings.Contains(stderr, tc.says) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, tc.code, tc.says)
			}
		})
	}
}
