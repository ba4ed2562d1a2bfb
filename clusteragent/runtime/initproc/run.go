package initproc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"
)

// Run is flotilla-init's "run": install keys, serve SSH, wait for the peers,
// then run the command (head) or wait for the head to be done (worker).
// It returns nil on success, a *CommandError carrying the head command's
// non-zero status, or an error whose kind ExitCode maps to an exit status.
// Cancelling ctx (a signal) stops everything started.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.Stdout, cfg.Stderr = orDiscard(cfg.Stdout), orDiscard(cfg.Stderr)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("role", string(cfg.Role))

	if err := checkWorkdir(cfg.Workdir); err != nil {
		return err
	}
	hosts, err := ReadNodes(cfg.NodesFile)
	if err != nil {
		return err
	}
	keys, err := ReadKeys(cfg.KeysDir)
	if err != nil {
		return err
	}
	if cfg.Array != nil {
		if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
			return fmt.Errorf("%w: %w", ErrSetup, err)
		}
		return runArray(ctx, &cfg, hosts, keys, log)
	}
	sshDir := cfg.SSHDir
	if sshDir == "" {
		if sshDir, err = DefaultSSHDir(); err != nil {
			return err
		}
	}
	if err := keys.Install(sshDir, hosts, cfg.SSHPort); err != nil {
		return err
	}
	log.Info("job keys installed", "dir", sshDir, "nodes", len(hosts))
	if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}

	// The head's control port is up before its SSH port, so a worker that
	// has seen every SSH port can reach it.
	var notifier *doneNotifier
	if cfg.Role == RoleHead {
		ln, err := listen(cfg.BindAddr, cfg.ControlPort)
		if err != nil {
			return err
		}
		notifier = newDoneNotifier(ln, log)
	}
	srv, err := startSSH(&cfg, keys, sshDir, log)
	if err != nil {
		if notifier != nil {
			notifier.finish(0, 0, time.Millisecond)
		}
		return err
	}
	defer srv.stop()

	// An SSH server that stops by itself ends the wait for peers (this node
	// would never be reachable); later it is only logged: the head's command
	// or the workers' wait decides the job's fate.
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-srv.failed:
			log.Error("ssh server stopped", "err", srv.err)
			cancel(srv.err)
		case <-ctx.Done():
		}
	}()
	stopped := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", errSignaled, context.Cause(ctx))
		}
		return err
	}

	start := time.Now()
	log.Info("waiting for nodes", "nodes", len(hosts), "port", cfg.SSHPort, "timeout", cfg.PeerTimeout)
	if cfg.Role == RoleWorker {
		// A worker's processes are its SSH sessions' commands.
		stopSignals := watchSignals(ctx, &cfg, nil, log)
		defer stopSignals()
		return stopped(runWorker(ctx, wctx, &cfg, hosts, log))
	}
	if err := WaitPeers(wctx, hosts, cfg.SSHPort, cfg.PeerTimeout); err != nil {
		notifier.finish(ExitPeerTimeout, 0, time.Millisecond)
		return stopped(err)
	}
	log.Info("all nodes reachable", "after", time.Since(start).Round(time.Millisecond))
	status := runCommand(ctx, &cfg, log)
	linger := cfg.Linger
	if ctx.Err() != nil {
		linger = min(linger, time.Second) // stopping: tell who is connected, wait for no one
	}
	notifier.finish(status, len(hosts)-1, linger)
	if err := stopped(nil); err != nil {
		return err
	}
	if status != 0 {
		return &CommandError{Code: status}
	}
	return nil
}

// runWorker waits for the peers and, at the same time, for the head to say
// it is done: a fast head may be done, and other workers gone, before a slow
// worker has seen them all. It returns nil once the head is done.
func runWorker(ctx, wctx context.Context, cfg *Config, hosts []string, log *slog.Logger) error {
	type result struct {
		status int
		err    error
	}
	dctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	connected := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		status, err := waitHeadDone(dctx, hosts[0], cfg.ControlPort, cfg.PeerTimeout, cfg.HeadTimeout, connected, log)
		done <- result{status, err}
	}()
	start := time.Now()
	pctx, pcancel := context.WithCancel(wctx)
	defer pcancel()
	peers := make(chan error, 1)
	go func() { peers <- WaitPeers(pctx, hosts, cfg.SSHPort, cfg.PeerTimeout) }()
	var r result
	select {
	case err := <-peers:
		if err != nil {
			cancel(err)
			<-done
			return err
		}
		log.Info("all nodes reachable", "after", time.Since(start).Round(time.Millisecond))
		// The head's control port opens before its SSH port: once every
		// node answers, the head gets HeadTimeout to answer too.
		t := time.NewTimer(cfg.HeadTimeout)
		select {
		case <-connected:
			r = <-done
		case r = <-done:
		case <-t.C:
			lost := fmt.Errorf("%w: control port of %s unreachable for %s after every node answered",
				ErrHeadLost, hosts[0], cfg.HeadTimeout)
			cancel(lost)
			r = <-done
			r.err = lost
		}
		t.Stop()
	case r = <-done:
		// The head is done (or lost) before this worker saw every node.
		pcancel()
		<-peers
	}
	if r.err != nil {
		return r.err
	}
	log.Info("head done", "status", r.status)
	return nil
}

// startSSH starts the SSH server the config and image call for.
func startSSH(cfg *Config, keys *Keys, sshDir string, log *slog.Logger) (*sshServer, error) {
	system, err := useSystemSSHD(cfg)
	if err != nil {
		return nil, err
	}
	if system {
		return startSystemSSHD(cfg, sshDir, log)
	}
	return startBuiltinSSHD(cfg, keys, log)
}

// runCommand runs the head's command in its own process group with the
// configured output and returns its exit status (127 when it cannot start).
// Cancelling ctx sends SIGTERM to the group, SIGKILL after a grace period.
func runCommand(ctx context.Context, cfg *Config, log *slog.Logger) int {
	cmd := exec.CommandContext(ctx, cfg.Command[0], cfg.Command[1:]...)
	cmd.Stdout, cmd.Stderr = cfg.Stdout, cfg.Stderr
	cmd.Dir = cfg.Workdir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = killGrace
	log.Info("running command", "argv", cfg.Command)
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		var main atomic.Int64
		main.Store(int64(cmd.Process.Pid))
		stopSignals := watchSignals(ctx, cfg, &main, log)
		err = cmd.Wait()
		main.Store(0)
		stopSignals()
	}
	status := exitStatus(cmd.ProcessState, err)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		log.Error("command failed", "err", err)
	}
	log.Info("command exited", "status", status, "after", time.Since(start).Round(time.Millisecond))
	return status
}

// checkWorkdir fails with ErrWorkdir when dir is set and not a directory:
// a job never starts elsewhere than where it asked.
func checkWorkdir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err == nil && !fi.IsDir() {
		err = errors.New("not a directory")
	}
	if err != nil {
		host, _ := os.Hostname()
		return fmt.Errorf("%w: %s on %s: %w", ErrWorkdir, dir, host, err)
	}
	return nil
}
