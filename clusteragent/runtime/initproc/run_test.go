package initproc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/internal/loopport"
)

// freePort returns a TCP port free on 127.0.0.1, reserved for this test
// process (internal/loopport: no other process's listen takes it).
func freePort(t *testing.T) int {
	t.Helper()
	port, err := loopport.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func writeNodes(t *testing.T, hosts ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nodes")
	if err := os.WriteFile(p, []byte("# machinefile\n"+strings.Join(hosts, "\n")+"\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadNodes(t *testing.T) {
	got, err := ReadNodes(writeNodes(t, "a.j1", "b.j1 slots=4", "c.j1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "a.j1,b.j1,c.j1" {
		t.Errorf("got %q", got)
	}
	if _, err := ReadNodes(writeNodes(t)); !errors.Is(err, ErrSetup) {
		t.Errorf("empty machinefile: %v", err)
	}
}

func TestWaitPeersTimeout(t *testing.T) {
	port := freePort(t) // nothing listens on it any more
	start := time.Now()
	err := WaitPeers(context.Background(), []string{"127.0.0.1", "no-such-host.invalid"}, port, 500*time.Millisecond)
	if !errors.Is(err, ErrPeerTimeout) {
		t.Fatalf("got %v, want ErrPeerTimeout", err)
	}
	if ExitCode(err) != ExitPeerTimeout {
		t.Errorf("exit code %d, want %d", ExitCode(err), ExitPeerTimeout)
	}
	msg := err.Error()
	for _, want := range []string{"127.0.0.1", "no-such-host.invalid", "2 of 2"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not name %q", msg, want)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s for a 500ms timeout", d)
	}
}

// TestWaitPeersReady: a peer is ready once its SSH server identified
// itself, and the probe identifies itself before it closes, so the server
// does not log the close as a failed key exchange.
func TestWaitPeersReady(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	idents := make(chan string, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// RFC 4253 lets a server send lines before its identification.
				fmt.Fprint(c, "a banner line\r\nSSH-2.0-Test_1.0\r\n")
				line, _ := bufio.NewReader(c).ReadString('\n')
				idents <- line
			}()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	if err := WaitPeers(context.Background(), []string{"127.0.0.1", "localhost"}, port, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got := <-idents; got != ProbeIdent+"\r\n" {
			t.Errorf("the probe sent %q, want %q", got, ProbeIdent+"\r\n")
		}
	}
}

// TestWaitPeersNeedsIdentification: a port that accepts and closes without
// an SSH identification (OpenSSH over its MaxStartups) is not ready.
func TestWaitPeersNeedsIdentification(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	err = WaitPeers(context.Background(), []string{"127.0.0.1"}, port, 700*time.Millisecond)
	if !errors.Is(err, ErrPeerTimeout) || !strings.Contains(err.Error(), "no SSH identification") {
		t.Fatalf("got %v, want ErrPeerTimeout naming the missing identification", err)
	}
}

func TestKeysInstall(t *testing.T) {
	keysDir := t.TempDir()
	writeTestKeys(t, keysDir)
	keys, err := ReadKeys(keysDir)
	if err != nil {
		t.Fatal(err)
	}
	sshDir := filepath.Join(t.TempDir(), "home", ".ssh")
	if err := keys.Install(sshDir, []string{"j1-0.j1", "j1-1.j1"}, 2222); err != nil {
		t.Fatal(err)
	}
	modes := map[string]os.FileMode{
		"": 0o700, PrivateKeyFile: 0o600, PublicKeyFile: 0o644, AuthorizedKeysFile: 0o600, "config": 0o600,
	}
	for name, want := range modes {
		fi, err := os.Stat(filepath.Join(sshDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", name, got, want)
		}
	}
	cfg, err := os.ReadFile(filepath.Join(sshDir, "config"))
	if err != nil {
		t.Fatal(err)
	}
	// Short names too: mpirun drops the domain before it runs ssh.
	for _, want := range []string{"Host j1-0\n  HostName j1-0.j1\n", "Host j1-1\n  HostName j1-1.j1\n",
		"Host j1-0.j1 j1-1.j1 j1-0 j1-1\n", "Port 2222\n", "StrictHostKeyChecking no\n",
		"IdentityFile " + filepath.Join(sshDir, PrivateKeyFile) + "\n"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	// A second install (a restarted container) leaves the same modes.
	if err := keys.Install(sshDir, []string{"j1-0.j1"}, 2222); err != nil {
		t.Fatal(err)
	}
}

func TestCopySelf(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bin")
	dst, err := CopySelf(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !isExecutable(dst) || filepath.Base(dst) != BinaryName {
		t.Errorf("%s is not an executable flotilla-init", dst)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := func() Config {
		return Config{Role: RoleWorker, NodesFile: "n", KeysDir: "k", RunDir: "r", SSHPort: 1, ControlPort: 2,
			SSHD: SSHDAuto, PeerTimeout: 1, HeadTimeout: 1, Linger: 1}
	}
	if c := ok(); c.Validate() != nil {
		t.Fatalf("valid config rejected: %v", c.Validate())
	}
	bad := map[string]func(*Config){
		"role":            func(c *Config) { c.Role = "boss" },
		"head no command": func(c *Config) { c.Role = RoleHead },
		"worker command":  func(c *Config) { c.Command = []string{"x"} },
		"sshd mode":       func(c *Config) { c.SSHD = "openssh" },
		"same ports":      func(c *Config) { c.ControlPort = c.SSHPort },
		"no nodes":        func(c *Config) { c.NodesFile = "" },
		"zero timeout":    func(c *Config) { c.Linger = 0 },
	}
	for name, mut := range bad {
		c := ok()
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrUsage) || ExitCode(err) != ExitUsage {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
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

// signalWriter closes seen once the text written to it contains want.
type signalWriter struct {
	syncBuffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	n, err := w.syncBuffer.Write(p)
	if strings.Contains(w.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

// loopbackNode is the config of one "pod" on its own loopback address.
func loopbackNode(t *testing.T, role Role, addr, nodes, keys string, sshPort, ctlPort int, out *syncBuffer) Config {
	dir := t.TempDir()
	cfg := Config{
		Role: role, NodesFile: nodes, KeysDir: keys,
		SSHDir: filepath.Join(dir, "ssh"), RunDir: filepath.Join(dir, "run"),
		BindAddr: addr, SSHPort: sshPort, ControlPort: ctlPort, SSHD: SSHDBuiltin,
		PeerTimeout: 20 * time.Second, HeadTimeout: 20 * time.Second, Linger: 20 * time.Second,
	}
	if out != nil {
		cfg.Stdout, cfg.Stderr = out, out
	}
	return cfg
}

// A head and two workers on 127.0.0.1-3: the head runs its command once all
// are up, exits with the command's status, and the workers exit 0 when told.
func TestRunHeadAndWorkers(t *testing.T) {
	keys := t.TempDir()
	writeTestKeys(t, keys)
	hosts := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	nodes := writeNodes(t, hosts...)
	sshPort, ctlPort := freePort(t), freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var out syncBuffer
	type result struct {
		role Role
		err  error
	}
	results := make(chan result, len(hosts))
	// Workers first and the head last, so the head's wait is real.
	for i := len(hosts) - 1; i >= 0; i-- {
		role := RoleWorker
		if i == 0 {
			role = RoleHead
		}
		cfg := loopbackNode(t, role, hosts[i], nodes, keys, sshPort, ctlPort, &out)
		if role == RoleHead {
			cfg.Command = []string{Shell, "-c", "echo head ran with $0; exit 7", "flotilla"}
		}
		go func() { results <- result{role, Run(ctx, cfg)} }()
	}
	var head error
	for range hosts {
		select {
		case r := <-results:
			if r.role == RoleHead {
				head = r.err
			} else if r.err != nil {
				t.Errorf("worker: %v", r.err)
			}
		case <-ctx.Done():
			t.Fatalf("nodes did not finish: %v\n%s", ctx.Err(), out.String())
		}
	}
	var ce *CommandError
	if !errors.As(head, &ce) || ce.Code != 7 || ExitCode(head) != 7 {
		t.Errorf("head: %v, want the command's status 7", head)
	}
	if !strings.Contains(out.String(), "head ran with flotilla\n") {
		t.Errorf("head output missing:\n%s", out.String())
	}
}

// A worker that reaches every node's SSH port but never the head's control
// port gives up after HeadTimeout with ErrHeadLost.
func TestRunWorkerHeadLost(t *testing.T) {
	keys := t.TempDir()
	writeTestKeys(t, keys)
	sshPort, ctlPort := freePort(t), freePort(t)
	fakeHead, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", sshPort))
	if err != nil {
		t.Fatal(err)
	}
	defer fakeHead.Close()
	go func() {
		for {
			c, err := fakeHead.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, "SSH-2.0-fake\r\n")
			c.Close()
		}
	}()
	var out syncBuffer
	cfg := loopbackNode(t, RoleWorker, "127.0.0.2", writeNodes(t, "127.0.0.1", "127.0.0.2"), keys, sshPort, ctlPort, &out)
	cfg.HeadTimeout = 500 * time.Millisecond
	err = Run(context.Background(), cfg)
	if !errors.Is(err, ErrHeadLost) || ExitCode(err) != ExitHeadLost {
		t.Errorf("got %v, want ErrHeadLost\n%s", err, out.String())
	}
}

func TestRunPeerTimeout(t *testing.T) {
	keys := t.TempDir()
	writeTestKeys(t, keys)
	var out syncBuffer
	sshPort, ctlPort := freePort(t), freePort(t)
	cfg := loopbackNode(t, RoleHead, "127.0.0.1", writeNodes(t, "127.0.0.1", "127.0.0.9"), keys, sshPort, ctlPort, &out)
	cfg.Command = []string{"true"}
	cfg.PeerTimeout = 500 * time.Millisecond
	err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrPeerTimeout) || ExitCode(err) != ExitPeerTimeout {
		t.Fatalf("got %v, want ErrPeerTimeout", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.9") || strings.Contains(err.Error(), "127.0.0.1 (") {
		t.Errorf("message should name only the missing node: %v", err)
	}
}

func TestRunCanceled(t *testing.T) {
	keys := t.TempDir()
	writeTestKeys(t, keys)
	out := &signalWriter{want: "running\n", seen: make(chan struct{})}
	sshPort, ctlPort := freePort(t), freePort(t)
	cfg := loopbackNode(t, RoleHead, "127.0.0.1", writeNodes(t, "127.0.0.1"), keys, sshPort, ctlPort, nil)
	cfg.Stdout = out
	cfg.Command = []string{Shell, "-c", "echo running; exec sleep 600"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	select {
	case <-out.seen:
	case err := <-done:
		t.Fatalf("Run ended before the command ran: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the command never started")
	}
	cancel()
	select {
	case err := <-done:
		if ExitCode(err) != ExitSignaled {
			t.Errorf("got %v (exit %d), want exit %d", err, ExitCode(err), ExitSignaled)
		}
	case <-time.After(2 * killGrace):
		t.Fatal("Run did not stop after cancel")
	}
}

func TestSSHDArgs(t *testing.T) {
	cfg := Config{SSHPort: 2222, RunDir: "/run/x", BindAddr: "10.0.0.1"}
	got := strings.Join(sshdArgs(&cfg, "/home/u/.ssh", true), " ")
	for _, want := range []string{"-D -e -f /dev/null -p 2222", "-o HostKey=/home/u/.ssh/id_ed25519",
		"-o AuthorizedKeysFile=/home/u/.ssh/authorized_keys", "-o PidFile=/run/x/sshd.pid",
		"-o PasswordAuthentication=no", "-o ListenAddress=10.0.0.1", "-o UsePAM=yes"} {
		if !strings.Contains(got, want) {
			t.Errorf("sshd args %q lack %q", got, want)
		}
	}
	// A job pod's sshd (not root, no privilege escalation) must not use
	// PAM: its account check needs the setgid unix_chkpwd.
	if got := strings.Join(sshdArgs(&cfg, "/home/u/.ssh", false), " "); !strings.Contains(got, "-o UsePAM=no") {
		t.Errorf("unprivileged sshd args %q lack UsePAM=no", got)
	}
}

// A head that gives up (here: a node never comes) still releases the
// workers already connected: they exit 0 rather than waiting to time out.
func TestRunWorkerReleasedWhenHeadFails(t *testing.T) {
	keys := t.TempDir()
	writeTestKeys(t, keys)
	nodes := writeNodes(t, "127.0.0.1", "127.0.0.2", "127.0.0.9")
	sshPort, ctlPort := freePort(t), freePort(t)
	var out syncBuffer
	worker := loopbackNode(t, RoleWorker, "127.0.0.2", nodes, keys, sshPort, ctlPort, &out)
	head := loopbackNode(t, RoleHead, "127.0.0.1", nodes, keys, sshPort, ctlPort, &out)
	head.Command = []string{"true"}
	head.PeerTimeout = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	werr := make(chan error, 1)
	go func() { werr <- Run(ctx, worker) }()
	if err := Run(ctx, head); !errors.Is(err, ErrPeerTimeout) {
		t.Errorf("head: %v, want ErrPeerTimeout", err)
	}
	select {
	case err := <-werr:
		if err != nil {
			t.Errorf("worker: %v, want nil once the head is done\n%s", err, out.String())
		}
	case <-ctx.Done():
		t.Fatalf("worker still running after the head gave up\n%s", out.String())
	}
}
