package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// env is a one-replica hub with real HTTP.
type env struct {
	t     *testing.T
	c     *hubtest.Cluster
	url   string
	admin *client.Client
	keys  map[string]string // actor → API key
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, hubtest.Options{NoSync: true})
}

// newEnvWith is newEnv with the hub's options.
func newEnvWith(t *testing.T, opts hubtest.Options) *env {
	t.Helper()
	c := hubtest.New(t, 1, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, c: c, url: c.URL(0), keys: map[string]string{"global": c.AdminKey}}
	e.admin = e.client(c.AdminKey)
	return e
}

func (e *env) client(key string) *client.Client {
	cl, err := client.New([]string{e.url}, key, client.WithRetryTimeout(20*time.Second))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.CloseIdleConnections)
	return cl
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// must fails the test on err; it takes a call's two results.
func (e *env) must(_ any, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// value returns a call's value, failing the test on its error.
func value[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// do sends a raw request with a bearer key (none when key is "") and
// returns the status and body.
func (e *env) do(method, path, key string, body []byte) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, out
}

// index is the replica's latest index of its state apart from the audit
// trail: it moves on every write that changes something. (A refused call
// leaves an audit event and nothing else.)
func (e *env) index() uint64 {
	r := e.c.Hub(0).Store().Read()
	var n uint64
	for _, t := range []string{state.TableTenants, state.TableTeams, state.TableUsers, state.TableClusters,
		state.TableMachineTypes, state.TableVaults, state.TableApps, state.TableLimits, state.TableBurstRules,
		state.TableJobs, state.TableAccounting, state.TableAccessRules, state.TableReplicas} {
		n = max(n, r.Index(t))
	}
	return n
}

func jsonOf(t testing.TB, v any) []byte {
	t.Helper()
	return value[[]byte](t)(json.Marshal(v))
}

// tinyAppDef is the smallest valid AppDef.
var tinyAppDef = structs.AppDef{Name: "App", Commands: map[string]structs.Command{"run": {Path: "/run.sh"}}}

// seedSubmitters writes what a job submission needs — tenant ta, cluster
// east, machine type c16 on it, the public app pub (tinyAppDef) — and
// the users of ta named, each with an API key: it returns the keys by
// user.
func seedSubmitters(ctx context.Context, t testing.TB, admin *client.Client, users ...string) map[string]string {
	t.Helper()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.PutTenant(ctx, &structs.Tenant{Name: "ta"}))
	must(admin.PutCluster(ctx, "east", &structs.ClusterSpec{}))
	must(admin.PutMachineType(ctx, &structs.MachineType{Name: "c16", Cores: 16, Slots: 16, RAM: 64, ScaleMax: 8, Cluster: "east"}))
	must(admin.PutApp(ctx, &structs.App{Name: "pub", Visibility: structs.VisibilityPublic, AppDef: tinyAppDef}))
	keys := map[string]string{}
	for _, u := range users {
		must(admin.PutUser(ctx, u, &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser}))
		k, err := admin.CreateAPIKey(ctx, u, "")
		if err != nil {
			t.Fatal(err)
		}
		keys[u] = k.Key
	}
	return keys
}
