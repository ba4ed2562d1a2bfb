package initproc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// privsepDir is where Debian's sshd wants its privilege separation
// directory when it runs as root.
const privsepDir = "/run/sshd"

// sshServer is a running SSH server of either kind.
type sshServer struct {
	kind string
	// failed is closed when the server stops by itself; err then says why.
	failed chan struct{}
	err    error
	stop   func()
}

// useSystemSSHD decides between the image's sshd and the built-in server.
func useSystemSSHD(cfg *Config) (bool, error) {
	switch cfg.SSHD {
	case SSHDBuiltin:
		return false, nil
	case SSHDSystem:
		if !isExecutable(cfg.SSHDPath) {
			return false, fmt.Errorf("%w: no sshd at %s (install openssh-server in the image or use the built-in server)",
				ErrSetup, cfg.SSHDPath)
		}
		return true, nil
	}
	if !isExecutable(cfg.SSHDPath) {
		return false, nil
	}
	// sshd refuses users without a passwd entry.
	_, err := user.LookupId(strconv.Itoa(os.Getuid()))
	return err == nil, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// sshdArgs are the arguments of the image's sshd: in the foreground, logging
// to stderr, ignoring the image's sshd_config, with the job key as host key
// and the job's authorized_keys. root says whether sshd runs as root.
func sshdArgs(cfg *Config, sshDir string, root bool) []string {
	args := []string{"-D", "-e", "-f", "/dev/null", "-p", strconv.Itoa(cfg.SSHPort)}
	opts := []string{
		"HostKey=" + filepath.Join(sshDir, PrivateKeyFile),
		"AuthorizedKeysFile=" + filepath.Join(sshDir, AuthorizedKeysFile),
		"PidFile=" + filepath.Join(cfg.RunDir, "sshd.pid"),
		// The key files live wherever the flags say (a temp dir in tests);
		// the job user owns them and the pod holds nobody else.
		"StrictModes=no",
		"PubkeyAuthentication=yes",
		"PasswordAuthentication=no",
		"KbdInteractiveAuthentication=no",
		"PermitRootLogin=prohibit-password",
		// PAM only for root's sshd, which reads shadow and without PAM
		// refuses users whose password is locked ("!" or "*"), as image
		// users usually are. An unprivileged sshd cannot read shadow, so
		// it sees no lock; with PAM its account check runs the setgid
		// helper unix_chkpwd, which fails in a job pod (no privilege
		// escalation: the setgid bit is ignored) and refuses every login.
		// (Builds without PAM ignore the option.)
		"UsePAM=" + map[bool]string{true: "yes", false: "no"}[root],
		// Every node probes every other at start; do not drop those.
		"MaxStartups=100:30:1000",
	}
	if cfg.BindAddr != "" {
		opts = append(opts, "ListenAddress="+cfg.BindAddr)
	}
	for _, o := range opts {
		args = append(args, "-o", o)
	}
	return args
}

// startSystemSSHD starts the image's sshd in its own process group.
func startSystemSSHD(cfg *Config, sshDir string, log *slog.Logger) (*sshServer, error) {
	if os.Geteuid() == 0 {
		// Root's sshd needs it; an unprivileged sshd does without.
		if err := os.MkdirAll(privsepDir, 0o755); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSetup, err)
		}
	}
	args := sshdArgs(cfg, sshDir, os.Geteuid() == 0)
	if len(cfg.JobEnv) > 0 {
		if err := writeSSHEnvironment(filepath.Join(sshDir, "environment"), cfg.JobEnv); err != nil {
			return nil, err
		}
		// sshd reads the file under the passwd entry's home only.
		if home, err := DefaultSSHDir(); err == nil && filepath.Clean(home) != filepath.Clean(sshDir) {
			log.Warn("the job's variables will not reach sshd's sessions: sshd reads ~/.ssh/environment, not this ssh directory",
				"ssh_dir", sshDir, "home_ssh_dir", home)
		}
		args = append(args, "-o", "PermitUserEnvironment=yes")
	}
	cmd := exec.Command(cfg.SSHDPath, args...)
	logs := &probeLogFilter{out: cfg.Stderr}
	cmd.Stdout = logs
	cmd.Stderr = logs
	// The session processes share sshd's stderr; the group is killed
	// with it, and Wait does not wait on a straggler's copy of it.
	cmd.WaitDelay = killGrace
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start %s: %w", ErrSetup, cfg.SSHDPath, err)
	}
	s := &sshServer{kind: "system sshd " + cfg.SSHDPath, failed: make(chan struct{})}
	exited := make(chan struct{})
	stopping := make(chan struct{})
	go func() {
		err := cmd.Wait()
		logs.Flush()
		close(exited)
		select {
		case <-stopping:
		default:
			s.err = fmt.Errorf("%w: sshd exited: %v", ErrSetup, err)
			close(s.failed)
		}
	}()
	s.stop = func() {
		close(stopping)
		terminateGroup(cmd.Process.Pid, exited)
	}
	log.Info("sshd started", "path", cfg.SSHDPath, "pid", cmd.Process.Pid, "port", cfg.SSHPort)
	return s, nil
}

// terminateGroup sends SIGTERM to process group pg and SIGKILL when it has
// not exited (exited closed) within killGrace.
func terminateGroup(pg int, exited <-chan struct{}) {
	syscall.Kill(-pg, syscall.SIGTERM)
	t := time.NewTimer(killGrace)
	defer t.Stop()
	select {
	case <-exited:
		return
	case <-t.C:
	}
	syscall.Kill(-pg, syscall.SIGKILL)
	<-exited
}

// startBuiltinSSHD listens on the SSH port and serves the built-in server.
func startBuiltinSSHD(cfg *Config, keys *Keys, log *slog.Logger) (*sshServer, error) {
	ln, err := listen(cfg.BindAddr, cfg.SSHPort)
	if err != nil {
		return nil, err
	}
	srv := NewSSHServer(keys, log)
	srv.Dir = cfg.Workdir
	s := &sshServer{kind: "built-in ssh server", failed: make(chan struct{})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil {
			s.err = fmt.Errorf("%w: built-in ssh server: %w", ErrSetup, err)
			close(s.failed)
		}
	}()
	s.stop = func() {
		srv.Close()
		<-served
	}
	log.Info("built-in ssh server listening", "addr", ln.Addr().String())
	return s, nil
}

// keepAlive is the TCP keep-alive of the control connections: it detects a
// peer that vanished without closing the connection (a deleted pod) within
// about Idle + Interval*Count.
func keepAlive() net.KeepAliveConfig {
	return net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3}
}

// listen opens a TCP listener with keep-alive on addr:port.
func listen(addr string, port int) (net.Listener, error) {
	lc := net.ListenConfig{KeepAliveConfig: keepAlive()}
	ln, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	return ln, nil
}

// orDiscard returns w, or io.Discard when w is nil.
func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// writeSSHEnvironment writes the job's variables, with their values from
// this process's environment, to path (sshd reads ~/.ssh/environment with
// PermitUserEnvironment; the default SSH directory is ~/.ssh), readable by
// the job user only. Values hold no newline (the hub refuses them).
func writeSSHEnvironment(path string, names []string) error {
	var b []byte
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			b = append(append(append(append(b, n...), '='), v...), '\n')
		}
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}
	return nil
}
