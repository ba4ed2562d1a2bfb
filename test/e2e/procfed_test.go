package e2e

import (
	"context"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// procFed is a federation of the shipped binaries as the process tests
// start it: flotilla-hub processes and a real control plane for cluster
// east with its nodes, holding what each of those tests registers first
// (see startProcFed). The test starts east's agent itself, with token.
type procFed struct {
	hubs  *procenv.Hubs
	env   *k8senv.Env
	admin *client.Client
	// aliceKey is the API key of user alice (tenant acme).
	aliceKey string
	// token is a bootstrap token for east's agent.
	token string
}

// procFedOptions shape a procFed.
type procFedOptions struct {
	hubs  procenv.HubOptions
	nodes int // east's nodes, 16 cores each
	// appName (default solver) is the app's name, commands its commands
	// (default: run, /opt/run.sh).
	appName  string
	commands map[string]structs.Command
	// password, if set, is alice's password.
	password string
}

// startProcFed starts the hubs and east's control plane with o.nodes
// nodes, and registers what registerEast does.
func startProcFed(ctx context.Context, t *testing.T, o procFedOptions) *procFed {
	t.Helper()
	f := &procFed{hubs: procenv.StartHubs(t, o.hubs), env: k8senv.Start(t, k8senv.Options{Name: "east"})}
	if err := f.env.AddNodes(ctx, nodes("east", o.nodes, "16")...); err != nil {
		t.Fatal(err)
	}
	f.admin = f.hubs.Client(f.hubs.AdminKey)
	f.aliceKey, f.token = registerEast(ctx, t, f.admin, o)
	return f
}

// registerEast registers, through admin, tenant acme, cluster east,
// machine type cpu (16 cores, up to 2 nodes a job), a public app of image
// solver:1 (o.appName, o.commands), user alice (o.password) with an API
// key, and returns alice's key and a bootstrap token for east.
func registerEast(ctx context.Context, t *testing.T, admin *client.Client, o procFedOptions) (aliceKey, token string) {
	t.Helper()
	if o.appName == "" {
		o.appName = "solver"
	}
	if o.commands == nil {
		o.commands = map[string]structs.Command{"run": {Path: "/opt/run.sh", Name: "Run"}}
	}
	must(t)(admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	must(t)(admin.PutCluster(ctx, "east", &structs.ClusterSpec{}))
	must(t)(admin.PutMachineType(ctx, &structs.MachineType{Name: "cpu", Cores: 16, Slots: 16, RAM: 32, Cluster: "east", ScaleMax: 2}))
	must(t)(admin.PutApp(ctx, &structs.App{Name: o.appName, Visibility: structs.VisibilityPublic, Image: "solver:1",
		AppDef: structs.AppDef{Name: o.appName, Commands: o.commands}}))
	must(t)(admin.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser, Password: o.password}))
	key, err := admin.CreateAPIKey(ctx, "alice", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateBootstrapToken(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	return key.Key, tok.Key
}

// must returns a check that fails t at once on an error, whatever the
// value: must(t)(admin.PutTenant(...)).
func must(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}
