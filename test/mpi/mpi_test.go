// Package mpi runs real Open MPI across simulated nodes: network namespaces
// on one bridge, each running flotilla-init with the keys and machinefile
// the runtime renders, the head running mpirun over SSH to the others —
// once through the image's sshd and once through the built-in server. The
// program is testdata/exchange.c, compiled with mpicc: its ranks pass
// messages of 1 byte to 4 MiB around a ring and run checked collectives.
//
// Each simulated node has its own hostname and /dev/shm, as a pod has: Open
// MPI names its shared-memory segments and session directories after the
// host name, so "hosts" sharing both map each other's segments, and ranks
// crash in the shared-memory transport or fail their TCP connects — through
// either SSH server.
//
// It needs root and the Debian packages iproute2, openssh-server,
// openssh-client, openmpi-bin and libopenmpi-dev; it fails (rather than
// skips) without them, except under -short.
package mpi

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	jobruntime "github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

const (
	nodes        = 3
	coresPerNode = 2
)

func TestMPIAcrossNamespaces(t *testing.T) {
	if testing.Short() {
		t.Skip("real MPI across network namespaces requires root, iproute2, openssh-server, openmpi-bin: skipped in -short only")
	}
	if os.Geteuid() != 0 {
		t.Fatal("TestMPIAcrossNamespaces must run as root (it creates network namespaces)")
	}
	tools := requireTools(t)
	bin := buildInit(t)
	prog := buildProgram(t, "exchange.c")
	nw := newNetwork(t, nodes)
	for i, mode := range []initproc.SSHDMode{initproc.SSHDSystem, initproc.SSHDBuiltin} {
		t.Run(string(mode), func(t *testing.T) {
			// Fresh ports per subtest: nothing waits on the last one's sockets.
			runJob(t, tools, bin, prog, nw, mode, 2222+100*i)
		})
	}
}

// toolPaths are the programs the test uses, found on this machine.
type toolPaths struct {
	ip, ssh, mpirun, sh string
}

// requireTools finds the programs the test needs and fails naming the
// Debian package of each one missing.
func requireTools(t *testing.T) toolPaths {
	t.Helper()
	var tp toolPaths
	var missing []string
	for _, need := range []struct {
		name, pkg string
		dst       *string
	}{
		{"ip", "iproute2", &tp.ip},
		{"ssh", "openssh-client", &tp.ssh},
		{"mpirun", "openmpi-bin", &tp.mpirun},
		{"orted", "openmpi-bin", nil},
		{"sh", "dash", &tp.sh},
	} {
		p, err := exec.LookPath(need.name)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", need.name, need.pkg))
			continue
		}
		if need.dst != nil {
			*need.dst = p
		}
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		missing = append(missing, "/usr/sbin/sshd (Debian package openssh-server)")
	}
	if len(missing) > 0 {
		t.Fatalf("missing tools, install them with apt-get install: %s", strings.Join(missing, ", "))
	}
	return tp
}

// buildInit builds the static flotilla-init into a temp dir.
func buildInit(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to build flotilla-init: %v", err)
	}
	out := filepath.Join(t.TempDir(), "flotilla-init")
	cmd := exec.Command(goBin, "build", "-o", out, "github.com/flotilla-hpc/flotilla/cmd/flotilla-init")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build flotilla-init: %v\n%s", err, b)
	}
	return out
}

// syncBuffer collects a process's output from several writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// node is one flotilla-init process running in a namespace.
type node struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when it has exited; err is then set
	err  error
}

// startNode runs flotilla-init in network namespace ns, in a UTS and mount
// namespace of its own with hostname host and a private /dev/shm, as a pod
// has, and stops it at cleanup if it is still running. (Sharing the hostname
// and /dev/shm, the "hosts" would map each other's Open MPI shared-memory
// segments, which are named after the host, and crash.)
func startNode(t *testing.T, name, ns, host, bin string, args []string) *node {
	t.Helper()
	n := &node{name: name, out: &syncBuffer{}, done: make(chan struct{})}
	setup := `hostname "$0" && mount -t tmpfs -o size=256m,mode=1777 shm /dev/shm && exec "$@"`
	n.cmd = exec.Command("ip", append([]string{"netns", "exec", ns,
		"unshare", "--uts", "--mount", "--propagation", "private", "--", "sh", "-c", setup, host, bin}, args...)...)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		select {
		case <-n.done:
			return
		default:
		}
		syscall.Kill(-n.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
			<-n.done
		}
	})
	return n
}

// exitCode waits for n to exit by deadline and returns its exit status.
func (n *node) exitCode(t *testing.T, deadline <-chan time.Time) int {
	t.Helper()
	select {
	case <-n.done:
	case <-deadline:
		t.Fatalf("%s did not exit in time; output:\n%s", n.name, n.out.String())
	}
	if n.err == nil {
		return 0
	}
	if ee, ok := n.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("%s: %v", n.name, n.err)
	return -1
}

// runJob renders a 3-node job, lays out each "pod"'s files, starts
// flotilla-init in every namespace and checks mpirun ran ranks on all hosts.
func runJob(t *testing.T, tools toolPaths, bin, prog string, nw *network, mode initproc.SSHDMode, sshPort int) {
	dir := t.TempDir()
	hosts := make([]string, len(nw.hosts))
	for i, h := range nw.hosts {
		hosts[i] = h.ip
	}
	// The machinefile names the namespaces' addresses: no DNS needed.
	writeFile(t, filepath.Join(dir, jobruntime.NodesKey), jobruntime.NodesFile(hosts), 0o644)
	coresFile := filepath.Join(dir, jobruntime.CoresKey)
	writeFile(t, coresFile, jobruntime.CoresFile(hosts, coresPerNode), 0o644)

	// mpirun reaches the other nodes with the ssh config flotilla-init
	// wrote for the head (in a pod that is ~/.ssh/config, found by plain ssh).
	agent := filepath.Join(dir, "rsh-agent")
	writeFile(t, agent, fmt.Sprintf("#!%s\nexec %s -F %s \"$@\"\n",
		tools.sh, tools.ssh, filepath.Join(dir, "h0", "ssh", "config")), 0o755)
	// The app: mpirun with the AppDef's arguments running the compiled
	// program whose ranks exchange data (see testdata/exchange.c).
	app := filepath.Join(dir, "run-mpi.sh")
	writeFile(t, app, fmt.Sprintf("#!%s\nexec %s --allow-run-as-root --mca plm_rsh_agent %s \"$@\" %s\n",
		tools.sh, tools.mpirun, agent, prog), 0o755)

	objs := render(t, app, coresFile)
	argv := headCommand(t, objs)

	ctlPort := sshPort + 1
	t.Setenv("MPI_NS_CASE", "wing 3")
	var nodes []*node
	for i, h := range nw.hosts {
		pod := filepath.Join(dir, "h"+strconv.Itoa(i))
		keys := filepath.Join(pod, "keys")
		// What the Secret volume would hold.
		for _, k := range []string{initproc.PrivateKeyFile, initproc.PublicKeyFile, initproc.AuthorizedKeysFile} {
			writeFile(t, filepath.Join(keys, k), string(objs.Secret.Data[k]), 0o600)
		}
		role := initproc.RoleWorker
		if i == 0 {
			role = initproc.RoleHead
		}
		args := []string{"run", "--role", string(role),
			"--nodes", filepath.Join(dir, jobruntime.NodesKey),
			"--keys", keys, "--ssh-dir", filepath.Join(pod, "ssh"), "--run-dir", filepath.Join(pod, "run"),
			"--ssh-port", strconv.Itoa(sshPort), "--control-port", strconv.Itoa(ctlPort),
			"--sshd", string(mode), "--peer-timeout", "90s", "--head-timeout", "60s", "--linger", "60s",
		}
		// A job variable: the image's sshd would read it from ~/.ssh/environment,
		// which the per-"pod" ssh directories here are not, and the head
		// says so (the end-to-end test runs it through the real home).
		args = append(args, "--job-env", "MPI_NS_CASE")
		if role == initproc.RoleHead {
			args = append(append(args, "--"), argv...)
		}
		nodes = append(nodes, startNode(t, fmt.Sprintf("%s (%s %s)", h.ns, role, h.ip), h.ns, "h"+strconv.Itoa(i), bin, args))
	}

	deadline := time.After(3 * time.Minute)
	head := nodes[0]
	code := head.exitCode(t, deadline)
	out := head.out.String()
	if code != 0 {
		for _, n := range nodes[1:] {
			t.Logf("%s output:\n%s", n.name, n.out.String())
		}
		t.Fatalf("head exited %d; output:\n%s", code, out)
	}
	checkRanks(t, out, hosts, coresPerNode)
	for _, n := range nodes[1:] {
		if c := n.exitCode(t, deadline); c != 0 {
			t.Errorf("%s exited %d; output:\n%s", n.name, c, n.out.String())
		}
	}
	for _, n := range nodes {
		checkNoProbeNoise(t, n.name, n.out.String())
	}
	if warned := strings.Contains(out, "will not reach sshd's sessions"); warned != (mode == initproc.SSHDSystem) {
		t.Errorf("%s server: the head warned that the job's variables miss sshd's sessions: %v, want %v", mode, warned, mode == initproc.SSHDSystem)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("head output:\n%s", out)
	}
}

// render renders the job with the runtime, the app command taking the
// hostfile and the rank count (%TCORES%) as AppDef parameters.
func render(t *testing.T, app, hostfile string) *jobruntime.Objects {
	t.Helper()
	job := &structs.Job{
		ID: "mpi-test", Number: 77, Name: "root-2026-01-01-0077", Tenant: "test", Owner: "root",
		App: "mpi-hello", Command: "Run", MachineType: "n2", Nodes: nodes,
		Parameters: map[string]string{"--hostfile": hostfile},
		SubmitTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	objs, err := jobruntime.Render(jobruntime.Input{
		Job:         job,
		MachineType: &structs.MachineType{Name: "n2", Cores: coresPerNode, Slots: coresPerNode, RAM: 1},
		Command: structs.Command{Path: app, Parameters: map[string]structs.Parameter{
			"--hostfile": {Type: structs.ParamFile, Required: true},
			"-np":        {Type: structs.ParamConst, Value: []byte(`"%TCORES%"`)},
		}},
		Random: rand.NewChaCha8([32]byte{'m', 'p', 'i'}),
	}, jobruntime.Options{
		Options:   podgroup.Options{Namespace: "test", Image: "app"},
		InitImage: "init",
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// headCommand is the command the renderer gave the head pod (after "--").
func headCommand(t *testing.T, objs *jobruntime.Objects) []string {
	t.Helper()
	args := objs.Pods[0].Spec.Containers[0].Args
	i := slices.Index(args, "--")
	if i < 0 {
		t.Fatalf("head args %q have no command", args)
	}
	return args[i+1:]
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// checkNoProbeNoise fails when a node's output holds what OpenSSH logs
// for a client that closed without identifying itself: flotilla-init's
// readiness probes must not put it in every job's output.
func checkNoProbeNoise(t *testing.T, name, out string) {
	t.Helper()
	if strings.Contains(out, "kex_exchange_identification") {
		t.Errorf("%s: the output holds sshd's kex_exchange_identification complaint:\n%s", name, out)
	}
}
