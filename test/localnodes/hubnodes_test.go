package localnodes

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// hubAndNodes is what the single-cluster local-node tests stand on: one
// hub replica, a control plane named name, local nodes registered in it,
// and a world-writable directory pub with shared/ in it for the
// machine types to mount (the nodes' containers run as other users).
type hubAndNodes struct {
	hubs        *procenv.Hubs
	env         *k8senv.Env
	ln          *Process
	name        string // the control plane's, the hub's cluster's
	id          string // random, in the nodes' prefix and the test's file names
	pub, shared string
}

// startHubAndNodes starts them; prefix (two letters and id make the
// nodes' network prefix) and subnet must differ between tests that may
// run at once. Everything is removed when t ends; the local nodes' log
// tail is logged when t failed.
func startHubAndNodes(t *testing.T, ctx context.Context, name, prefix, subnet string, nodes ...string) *hubAndNodes {
	t.Helper()
	h := &hubAndNodes{hubs: procenv.StartHubs(t, procenv.HubOptions{Replicas: 1}),
		env: k8senv.Start(t, k8senv.Options{Name: name}), name: name, id: randomHex(t, 3)}
	ln, err := Start(ctx, h.env.Client, Options{Name: name, Nodes: nodes, CPU: "4", Memory: "8Gi",
		Prefix: prefix + h.id, Subnet: subnet, Kubeconfig: h.env.Kubeconfig, ClientCA: h.env.CAFile, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h.ln = ln
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("flotilla-localnode log:\n%s", ln.Tail(40))
		}
		ln.Remove()
	})
	if h.pub, err = os.MkdirTemp("", "flotilla-"+name+"-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(h.pub) })
	h.shared = filepath.Join(h.pub, "shared")
	if err := os.MkdirAll(h.shared, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(h.pub, 0o777)
	os.Chmod(h.shared, 0o777)
	return h
}

// user is the one user of a local-node test, alice of tenant acme: her
// API key and client, and the agent started for her jobs.
type user struct {
	key   string
	alice *client.Client
	agent *procenv.Agent
}

// seedAndStartAgent registers tenant acme, the cluster h.name with machine
// type l4 on the local nodes (4 cores, slots slots, 1..scaleMax nodes,
// h.shared mounted at /shared), app a unless nil, and user alice with an
// API key, then starts the shipped agent of the cluster (its running
// jobs' log tail every 300 ms).
func (h *hubAndNodes) seedAndStartAgent(ctx context.Context, t *testing.T, slots, scaleMax int, a *structs.App) *user {
	t.Helper()
	admin := h.hubs.Client(h.hubs.AdminKey)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	must(admin.PutCluster(ctx, h.name, &structs.ClusterSpec{}))
	must(admin.PutMachineType(ctx, &structs.MachineType{Name: "l4", Cores: 4, Slots: slots, RAM: 1, ScaleMin: 1, ScaleMax: scaleMax,
		Cluster: h.name, Properties: Label + "=true", Devices: h.shared + "=/shared:rw"}))
	if a != nil {
		must(admin.PutApp(ctx, a))
	}
	must(admin.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}))
	key, err := admin.CreateAPIKey(ctx, "alice", h.name)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateBootstrapToken(ctx, h.name)
	if err != nil {
		t.Fatal(err)
	}
	agent := procenv.StartAgent(t, procenv.AgentOptions{Cluster: h.name, HubURLs: h.hubs.URLs(), Kubeconfig: h.env.Kubeconfig,
		BootstrapToken: tok.Key, Args: []string{"-live-tail-every=300ms", "-pod-security=privileged"}}) // host binds
	return &user{key: key.Key, alice: h.hubs.Client(key.Key), agent: agent}
}

// flotilla runs the flotilla binary at bin as u runs it against the hub,
// with env added to its environment, and returns its stdout, stderr and
// exit code.
func (h *hubAndNodes) flotilla(ctx context.Context, t *testing.T, bin string, u *user, env ...string) func(args ...string) (string, string, int) {
	return func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append([]string{"FLOTILLA_HUB=" + strings.Join(h.hubs.URLs(), ","), "FLOTILLA_API_KEY=" + u.key,
			"FLOTILLA_CA_FILE=" + h.hubs.CAFile, "PATH=/usr/bin:/bin"}, env...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
}
