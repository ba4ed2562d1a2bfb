package mpi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/localnodes"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// Images the end-to-end apps name. Local nodes run every image from the
// host's filesystem; noSSHDImage adds a layer that removes /usr/sbin/sshd,
// so flotilla-init (auto) serves SSH itself.
const (
	hostImage   = "flotilla/mpi-exchange:host"
	noSSHDImage = "flotilla/mpi-exchange:no-sshd"
	e2eSubnet   = "10.216.0.0/24"
)

// TestMPIEndToEnd runs the compiled exchange program as a Flotilla job:
// submitted through the API of a 3-replica hub, placed on cluster east,
// rendered by its agent and run by local nodes as real processes. The head
// runs `mpirun -np 6` across the three pods with the machinefile, SSH trust
// and hostnames the runtime renders — once through the image's sshd, once
// through flotilla-init's built-in server — and the output read back
// through the hub names 6 ranks on 3 pod addresses. A rank exiting 3 ends
// its job COMPLETED_WITH_ERROR with exit code 3, run once.
func TestMPIEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs root, Open MPI (openmpi-bin, libopenmpi-dev), a control plane and the built binaries (FLOTILLA_BIN from make tools and make build)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("TestMPIEndToEnd must run as root (local nodes make namespaces)")
	}
	requireTools(t)
	prog := buildProgram(t, "exchange.c")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	hubs := procenv.StartHubs(t, procenv.HubOptions{Replicas: 3})
	env := k8senv.Start(t, k8senv.Options{Name: "east"})
	dir := t.TempDir()
	noSSHD := noSSHDLayer(t, dir)
	id := hex.EncodeToString(randomBytes(t, 3))
	ln, err := localnodes.Start(ctx, env.Client, localnodes.Options{
		Name: "east", Nodes: []string{"east-l0", "east-l1", "east-l2"}, CPU: "2", Memory: "4Gi",
		Prefix: "fme" + id, Subnet: e2eSubnet, Kubeconfig: env.Kubeconfig, ClientCA: env.CAFile, Dir: dir,
		Images: map[string]string{noSSHDImage: noSSHD},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("flotilla-localnode log:\n%s", ln.Tail(60))
		}
		ln.Remove()
	})

	// The job user (uid 505) runs the app's files: they go where it can
	// read them (t.TempDir is root's alone).
	pub := publicDir(t)
	pubProg := filepath.Join(pub, "exchange")
	b, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, pubProg, string(b), 0o755)
	admin := hubs.Client(hubs.AdminKey)
	alice, token := setUpHub(ctx, t, admin, hubs, pub, pubProg)
	procenv.StartAgent(t, procenv.AgentOptions{Cluster: "east", HubURLs: hubs.URLs(), Kubeconfig: env.Kubeconfig, BootstrapToken: token})

	for _, tc := range []struct{ name, app string }{
		{"sshd", "mpi-sshd"},
		{"builtin", "mpi-builtin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := submitAndWait(ctx, t, alice, tc.app, "run", map[string]string{e2eVar: e2eValue})
			if j.State != structs.JobCompleted {
				t.Fatalf("job ended %s (exit %d, %s); output:\n%s", j.State, j.ExitCode, j.Substatus, j.LogTail)
			}
			checkRanks(t, j.LogTail, podIPs(t, j.LogTail), coresPerNode)
			if !strings.Contains(j.LogTail, "exchange ok") {
				t.Errorf("no exchange ok in the output")
			}
			if tc.name == "builtin" && strings.Contains(j.LogTail, "Server listening") {
				t.Errorf("the image's sshd ran in an image without it:\n%s", j.LogTail)
			}
			if tc.name == "sshd" && !strings.Contains(j.LogTail, "Server listening") {
				t.Errorf("the image's sshd did not run:\n%s", j.LogTail)
			}
			checkNoProbeNoise(t, "the job", j.LogTail)
			checkJobEnv(t, j.LogTail)
		})
	}
	t.Run("rank exits 3", func(t *testing.T) {
		j := submitAndWait(ctx, t, alice, "mpi-sshd", "fail", nil)
		if j.State != structs.JobCompletedWithError || j.ExitCode != 3 {
			t.Fatalf("job ended %s with exit code %d, want COMPLETED_WITH_ERROR and 3; output:\n%s", j.State, j.ExitCode, j.LogTail)
		}
		if n := strings.Count(j.LogTail, "rank 0 of 6"); n != 1 {
			t.Errorf("rank 0 reported %d times: the job ran more than once?\n%s", n, j.LogTail)
		}
		// The head's app container ran once: nothing was restarted.
		head := fmt.Sprintf("j%d-0", j.Number)
		log, _ := os.ReadFile(ln.LogPath())
		starts := regexp.MustCompile(`msg="container started" pod=` + podgroup.TenantNamespace(podgroup.DefaultNamespacePrefix, "acme") + `/` + regexp.QuoteMeta(head) + ` container=app`)
		if n := len(starts.FindAll(log, -1)); n != 1 {
			t.Errorf("the head's app container started %d times, want 1", n)
		}
	})
}

// setUpHub registers tenant, cluster east, machine type l2 (2 cores, on
// local nodes) and the two apps, and returns alice's client and a
// bootstrap token for east's agent.
func setUpHub(ctx context.Context, t *testing.T, admin *client.Client, hubs *procenv.Hubs, dir, prog string) (*client.Client, string) {
	t.Helper()
	// "run" first has every rank print the job's variable: the ranks on
	// the other nodes run under their sshd's sessions, which see it only
	// through ~/.ssh/environment (the built-in server: its environment).
	run := filepath.Join(dir, "run.sh")
	mpirun := "mpirun --hostfile \"$FLOTILLA_CORESFILE\" -np \"$FLOTILLA_TCORES\" "
	writeFile(t, run, "#!/bin/sh\n"+mpirun+"sh -c 'echo \"jobenv $(hostname) [$"+e2eVar+"]\"' || exit $?\n"+
		"exec "+mpirun+prog+"\n", 0o755)
	fail := script(t, dir, "fail.sh", prog+" --exit-rank 2 --exit-code 3")
	cmds := map[string]structs.Command{"run": {Path: run, Name: "Run"}, "fail": {Path: fail, Name: "Fail"}}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	must(admin.PutCluster(ctx, "east", &structs.ClusterSpec{Zone: "z1"}))
	must(admin.PutMachineType(ctx, &structs.MachineType{Name: "l2", Cores: coresPerNode, Slots: coresPerNode, RAM: 1,
		ScaleMin: 1, ScaleMax: nodes, Cluster: "east", Properties: localnodes.Label + "=true"}))
	must(admin.PutApp(ctx, &structs.App{Name: "mpi-sshd", Visibility: structs.VisibilityPublic, Image: hostImage,
		AppDef: structs.AppDef{Name: "exchange (image sshd)", Commands: cmds}}))
	must(admin.PutApp(ctx, &structs.App{Name: "mpi-builtin", Visibility: structs.VisibilityPublic, Image: noSSHDImage,
		AppDef: structs.AppDef{Name: "exchange (built-in ssh)", Commands: cmds}}))
	must(admin.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}))
	key, err := admin.CreateAPIKey(ctx, "alice", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateBootstrapToken(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	return hubs.Client(key.Key), tok.Key
}

// script writes the AppDef command: mpirun over the machinefile the
// runtime mounted, one rank per core, running cmd.
func script(t *testing.T, dir, name, cmd string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	writeFile(t, p, "#!/bin/sh\nexec mpirun --hostfile \"$FLOTILLA_CORESFILE\" -np \"$FLOTILLA_TCORES\" "+cmd+"\n", 0o755)
	return p
}

// The job's own variable (submitted with --env) the "run" command's ranks
// print; the value keeps its spaces, quotes and dollar sign as given.
const (
	e2eVar   = "E2E_CASE"
	e2eValue = `wing 3 'flap' $HOME`
)

// jobEnvLine is what each rank of the "run" command prints.
var jobEnvLine = regexp.MustCompile(`(?m)^jobenv (\S+) \[(.*)\]$`)

// checkJobEnv asserts that every rank, on every node, saw the job's
// variable with its submitted value.
func checkJobEnv(t *testing.T, out string) {
	t.Helper()
	lines := jobEnvLine.FindAllStringSubmatch(out, -1)
	hosts := map[string]bool{}
	for _, m := range lines {
		hosts[m[1]] = true
		if m[2] != e2eValue {
			t.Errorf("a rank on %s saw %s=%q, want %q", m[1], e2eVar, m[2], e2eValue)
		}
	}
	if len(lines) != nodes*coresPerNode || len(hosts) != nodes {
		t.Errorf("%d ranks on %d hosts printed the job's variable, want %d on %d:\n%s",
			len(lines), len(hosts), nodes*coresPerNode, nodes, out)
	}
}

// submitAndWait submits a 3-node job as alice and waits until it ends.
func submitAndWait(ctx context.Context, t *testing.T, alice *client.Client, app, command string, env map[string]string) *structs.Job {
	t.Helper()
	j, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: app, Command: command,
		MachineType: "l2", Nodes: nodes, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		cur, err := alice.GetJob(ctx, j.ID, false)
		if err == nil && cur.State.IsTerminal() {
			return cur
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s (%s %s) did not end: last %+v, %v", j.Name, app, command, cur, err)
		case <-tick.C:
		}
	}
}

// podIPs are the distinct addresses the ranks report, all of which must be
// in the local nodes' pod subnet.
func podIPs(t *testing.T, out string) []string {
	t.Helper()
	sub := netip.MustParsePrefix(e2eSubnet)
	seen := map[string]bool{}
	var ips []string
	for _, m := range rankLine.FindAllStringSubmatch(out, -1) {
		ip := m[3]
		if a, err := netip.ParseAddr(ip); err != nil || !sub.Contains(a) {
			t.Errorf("rank %s ran on %s, not a pod address of %s", m[1], ip, e2eSubnet)
		}
		if !seen[ip] {
			seen[ip] = true
			ips = append(ips, ip)
		}
	}
	if len(ips) != nodes {
		t.Errorf("ranks ran on %d distinct pod addresses %v, want %d", len(ips), ips, nodes)
	}
	return ips
}

// noSSHDLayer makes an image layer that removes /usr/sbin/sshd (an overlay
// whiteout: a 0/0 character device).
func noSSHDLayer(t *testing.T, dir string) string {
	t.Helper()
	layer := filepath.Join(dir, "no-sshd-layer")
	if err := os.MkdirAll(filepath.Join(layer, "usr", "sbin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(filepath.Join(layer, "usr", "sbin", "sshd"), syscall.S_IFCHR|0o000, 0); err != nil {
		t.Fatal(err)
	}
	return layer
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// publicDir is a directory every user may read, removed at cleanup.
func publicDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "flotilla-mpi-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}
