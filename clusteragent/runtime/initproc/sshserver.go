package initproc

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Shell runs the commands of the built-in SSH server.
const Shell = "/bin/sh"

const (
	handshakeTimeout = 30 * time.Second
	killGrace        = 3 * time.Second
)

// SSHServer is the built-in SSH server for images without a usable sshd. It
// accepts only the job key, runs "exec" requests as `/bin/sh -c COMMAND`
// (and "shell" as /bin/sh) as the current user, passes stdin, stdout and
// stderr through, and reports the exit status. A session stays open until
// the command and everything holding its output have exited, which is what
// mpirun's rsh launcher expects of `ssh HOST orted ...`.
//
// As sshd does, it runs each command in a session of its own (setsid: no
// controlling terminal, its own process group) with the pod's environment
// plus the login variables (USER, LOGNAME, HOME, SHELL, SSH_CONNECTION,
// SSH_CLIENT) and the client's env requests.
type SSHServer struct {
	config *ssh.ServerConfig
	log    *slog.Logger
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	lns    map[net.Listener]struct{}
	conns  map[net.Conn]struct{}
	procs  map[int]struct{} // process group ids of running commands

	// Dir, when set before Serve, is where sessions' commands start
	// (the job's working directory); else the user's home.
	Dir string
}

// NewSSHServer returns a server whose host key is the job key and which
// lets in only the job's authorized keys. A nil logger discards.
func NewSSHServer(keys *Keys, log *slog.Logger) *SSHServer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := &ssh.ServerConfig{
		ServerVersion: "SSH-2.0-flotilla-init",
		PublicKeyCallback: func(_ ssh.ConnMetadata, pk ssh.PublicKey) (*ssh.Permissions, error) {
			if keys.IsAuthorized(pk) {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("key not authorized for this job")
		},
	}
	cfg.AddHostKey(keys.Signer)
	return &SSHServer{
		config: cfg, log: log,
		lns:   map[net.Listener]struct{}{},
		conns: map[net.Conn]struct{}{},
		procs: map[int]struct{}{},
	}
}

// Serve accepts connections on ln until Close; it then returns nil.
func (s *SSHServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		// Count the connection under the lock, so Close either sees it or
		// it is never served.
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, nc)
				s.mu.Unlock()
			}()
			defer nc.Close()
			s.handleConn(nc)
		}()
	}
}

// Close stops accepting, closes every connection, ends the commands still
// running (SIGTERM to their process groups, SIGKILL after a grace period)
// and waits for the sessions to finish.
func (s *SSHServer) Close() error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	for pg := range s.procs {
		syscall.Kill(-pg, syscall.SIGTERM)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	t := time.NewTimer(killGrace)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
	}
	s.mu.Lock()
	for pg := range s.procs {
		syscall.Kill(-pg, syscall.SIGKILL)
	}
	s.mu.Unlock()
	<-done
	return nil
}

func (s *SSHServer) handleConn(nc net.Conn) {
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.config)
	if err != nil {
		s.log.Debug("ssh handshake failed", "remote", nc.RemoteAddr(), "err", err)
		return
	}
	defer sc.Close()
	nc.SetDeadline(time.Time{})
	go ssh.DiscardRequests(reqs)
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "only session channels are served")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		login := loginEnv(sc.RemoteAddr(), sc.LocalAddr())
		s.wg.Go(func() { s.session(ch, creqs, login) })
	}
}

// session serves one session channel: env requests before exec or shell,
// then the command, then exit-status. login is the login environment.
func (s *SSHServer) session(ch ssh.Channel, reqs <-chan *ssh.Request, login []string) {
	defer ch.Close()
	env := login
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			err := ssh.Unmarshal(req.Payload, &kv)
			if err == nil {
				env = append(env, kv.Name+"="+kv.Value)
			}
			req.Reply(err == nil, nil)
		case "exec", "shell":
			args := []string{Shell}
			if req.Type == "exec" {
				var p struct{ Command string }
				if err := ssh.Unmarshal(req.Payload, &p); err != nil {
					req.Reply(false, nil)
					continue
				}
				args = append(args, "-c", p.Command)
			}
			req.Reply(true, nil)
			s.run(ch, reqs, args, env)
			return
		default: // pty-req, x11-req, subsystem...: not served
			req.Reply(false, nil)
		}
	}
}

// run runs args in its own process group with the channel as stdio and
// sends its exit status. Requests arriving meanwhile may signal it.
func (s *SSHServer) run(ch ssh.Channel, reqs <-chan *ssh.Request, args, env []string) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	if s.Dir != "" {
		cmd.Dir = s.Dir
	} else if home, err := os.UserHomeDir(); err == nil {
		if fi, err := os.Stat(home); err == nil && fi.IsDir() {
			cmd.Dir = home
		}
	}
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	// A new session, as sshd gives each command: the command's process
	// group is its pid, so signals and Close reach all it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stdin, err := cmd.StdinPipe()
	if err == nil {
		s.mu.Lock()
		if s.closed {
			err = errors.New("server closing")
		} else if err = cmd.Start(); err == nil {
			s.procs[cmd.Process.Pid] = struct{}{}
		}
		s.mu.Unlock()
	}
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "flotilla-init: %v\n", err)
		sendExitStatus(ch, 127)
		return
	}
	pgid := cmd.Process.Pid
	go func() {
		io.Copy(stdin, ch)
		stdin.Close()
	}()
	go func() {
		for req := range reqs {
			ok := false
			if req.Type == "signal" {
				var p struct{ Signal string }
				if ssh.Unmarshal(req.Payload, &p) == nil {
					if sig, known := signalNamed(p.Signal); known {
						ok = syscall.Kill(-pgid, sig) == nil
					}
				}
			}
			req.Reply(ok, nil)
		}
	}()
	err = cmd.Wait()
	s.mu.Lock()
	delete(s.procs, pgid)
	s.mu.Unlock()
	code := exitStatus(cmd.ProcessState, err)
	s.log.Debug("ssh command done", "args", args, "status", code)
	sendExitStatus(ch, code)
}

// signalNamed maps an SSH signal name (RFC 4254 section 6.10) to a signal.
func signalNamed(name string) (syscall.Signal, bool) {
	switch name {
	case "HUP":
		return syscall.SIGHUP, true
	case "INT":
		return syscall.SIGINT, true
	case "KILL":
		return syscall.SIGKILL, true
	case "QUIT":
		return syscall.SIGQUIT, true
	case "TERM":
		return syscall.SIGTERM, true
	case "USR1":
		return syscall.SIGUSR1, true
	case "USR2":
		return syscall.SIGUSR2, true
	}
	return 0, false
}

func sendExitStatus(ch ssh.Channel, code int) {
	ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
}

// exitStatus is a finished process's status as a shell reports it: its exit
// code, or 128+N when signal N killed it.
func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		if err != nil {
			return 127
		}
		return 0
	}
	if c := ps.ExitCode(); c >= 0 {
		return c
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return 255
}
