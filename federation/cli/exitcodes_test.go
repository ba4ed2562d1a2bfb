package cli

import (
	"strings"
	"testing"
)

// TestExitCodeContract: each exit code scripts rely on, produced by the
// real failure against a real hub (and an unreachable one), with the
// line on stderr that says why.
func TestExitCodeContract(t *testing.T) {
	u := newUserHub(t)
	badKey := map[string]string{EnvHub: u.url, EnvAPIKey: "flk_0000000000000000_00000000000000000000000000000000"}
	down := map[string]string{EnvHub: "http://127.0.0.1:1", EnvAPIKey: u.env[EnvAPIKey]}
	for name, tc := range map[string]struct {
		env  map[string]string
		args []string
		code int
		want string
	}{
		"0 done":            {u.env, []string{"jobs"}, ExitOK, "No jobs."},
		"1 hub refused":     {u.env, []string{"submit", "--app", "nosuchapp", "-p", "n1"}, ExitError, "(HTTP 4"},
		"2 bad input":       {u.env, []string{"submit", "--app", "solver", "-p", "n1", "--nodes", "0"}, ExitUsage, "submit: --nodes"},
		"3 not found":       {u.env, []string{"status", "999"}, ExitNotFound, `job "999"`},
		"4 not allowed":     {badKey, []string{"jobs"}, ExitDenied, "(HTTP 401)"},
		"5 hub unreachable": {down, []string{"--timeout", "300ms", "jobs"}, ExitUnreachable, "cannot reach the hub at http://127.0.0.1:1: "},
	} {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, tc.env, tc.args...)
			r.check(t, tc.code, tc.want)
			if tc.code != ExitOK && (!strings.HasPrefix(r.stderr, "flotilla: ") || strings.Count(r.stderr, "\n") != 1) {
				t.Errorf("stderr %q: want one line starting with \"flotilla: \"", r.stderr)
			}
		})
	}
}
