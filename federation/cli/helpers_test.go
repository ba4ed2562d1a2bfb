package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// result is what one run of the CLI printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the CLI with env as its environment.
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := Run(ctx, args, &out, &errb, func(k string) string { return env[k] })
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// testHub starts a one-replica hub on loopback and returns its URL and the
// bootstrap administrator's key.
func testHub(t *testing.T) (*hubtest.Cluster, string) {
	t.Helper()
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	return c, c.URL(0)
}

// countingHub is a stand-in hub that counts the requests it gets and
// answers 500: usage tests check that bad input sends nothing.
func countingHub(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, `{"error":"unexpected request"}`, http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// writeFile writes content to a file in a temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// check compares a result with the expected exit code and substrings.
func (r result) check(t *testing.T, code int, wantOut ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, w := range wantOut {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", w, r.stdout, r.stderr)
		}
	}
}

// mustDo fails t on err; the value is ignored (admin calls' results).
func mustDo(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// aliceOnEast fills the hub at url with tenant acme, its user alice,
// cluster east with machine type n1 (4 cores, 1–4 nodes) and the public
// app named app running /bin/true, and returns the admin's and alice's
// clients and alice's API key.
func aliceOnEast(t *testing.T, ctx context.Context, url, adminKey, app string) (adm, alice *client.Client, aliceKey string) {
	t.Helper()
	adm, err := client.New([]string{url}, adminKey)
	if err != nil {
		t.Fatal(err)
	}
	must := mustDo(t)
	must(adm.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	must(adm.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}))
	must(adm.PutCluster(ctx, "east", &structs.ClusterSpec{}))
	must(adm.PutMachineType(ctx, &structs.MachineType{Name: "n1", Cores: 4, Slots: 4, RAM: 8, ScaleMax: 4, Cluster: "east"}))
	must(adm.PutApp(ctx, &structs.App{Name: app, Visibility: structs.VisibilityPublic, AppDef: structs.AppDef{Name: app,
		Commands: map[string]structs.Command{"run": {Path: "/bin/true", Name: "Run", Description: "run " + app}}}}))
	key, err := adm.CreateAPIKey(ctx, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if alice, err = client.New([]string{url}, key.Key); err != nil {
		t.Fatal(err)
	}
	return adm, alice, key.Key
}
