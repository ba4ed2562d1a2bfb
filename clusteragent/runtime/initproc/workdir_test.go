package initproc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestRunWorkdirAndJobEnv: with a working directory and the job's own
// variables, the head's command starts in the directory with the
// variables set, and so do the sessions of a worker's built-in SSH server
// (what mpirun's remote launches run in).
func TestRunWorkdirAndJobEnv(t *testing.T) {
	keys := t.TempDir()
	signer := writeTestKeys(t, keys)
	hosts := []string{"127.0.0.1", "127.0.0.2"}
	nodes := writeNodes(t, hosts...)
	sshPort, ctlPort := freePort(t), freePort(t)
	work := t.TempDir()
	t.Setenv("CASE_NAME", "wing 3")
	release := filepath.Join(t.TempDir(), "release")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var out syncBuffer
	errs := make(chan error, 2)
	worker := loopbackNode(t, RoleWorker, hosts[1], nodes, keys, sshPort, ctlPort, &out)
	worker.Workdir, worker.JobEnv = work, []string{"CASE_NAME"}
	go func() { errs <- Run(ctx, worker) }()
	head := loopbackNode(t, RoleHead, hosts[0], nodes, keys, sshPort, ctlPort, &out)
	head.Workdir, head.JobEnv = work, []string{"CASE_NAME"}
	head.Command = []string{Shell, "-c", `echo "head in $(pwd) with $CASE_NAME"; while [ ! -e "$0" ]; do sleep 0.05; done`, release}
	go func() { errs <- Run(ctx, head) }()

	// The worker's SSH server, once the head's command runs.
	for !strings.Contains(out.String(), "head in ") {
		select {
		case <-ctx.Done():
			t.Fatalf("the head's command never ran:\n%s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	c, err := ssh.Dial("tcp", net.JoinHostPort(hosts[1], strconv.Itoa(sshPort)), &ssh.ClientConfig{User: "job",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.FixedHostKey(signer.PublicKey()), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	s.Stdout = &got
	if err := s.Run(`echo "$(pwd) $CASE_NAME"`); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if want := work + " wing 3\n"; got.String() != want {
		t.Errorf("worker session: %q, want %q", got.String(), want)
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("node: %v\n%s", err, out.String())
		}
	}
	if want := "head in " + work + " with wing 3\n"; !strings.Contains(out.String(), want) {
		t.Errorf("head output lacks %q:\n%s", want, out.String())
	}
}

// TestRunWorkdirMissing: a working directory missing on a node fails that
// node before anything starts (no command runs elsewhere), with its own
// exit status and a message naming the directory.
func TestRunWorkdirMissing(t *testing.T) {
	keys := t.TempDir()
	writeTestKeys(t, keys)
	nodes := writeNodes(t, "127.0.0.1")
	var out syncBuffer
	for _, role := range []Role{RoleHead, RoleWorker} {
		cfg := loopbackNode(t, role, "127.0.0.1", nodes, keys, freePort(t), freePort(t), &out)
		cfg.Workdir = filepath.Join(t.TempDir(), "no-such-dir")
		if role == RoleHead {
			cfg.Command = []string{Shell, "-c", "echo ran"}
		}
		err := Run(context.Background(), cfg)
		if !errors.Is(err, ErrWorkdir) || ExitCode(err) != ExitNoWorkdir || !strings.Contains(err.Error(), cfg.Workdir) {
			t.Errorf("%s: %v (exit %d), want ErrWorkdir naming %s", role, err, ExitCode(err), cfg.Workdir)
		}
	}
	if strings.Contains(out.String(), "ran") {
		t.Errorf("the command ran: %s", out.String())
	}
	if m := ExitMeaning(ExitNoWorkdir); !strings.Contains(m, "working directory") {
		t.Errorf("ExitMeaning(%d) = %q", ExitNoWorkdir, m)
	}
}

// TestSSHEnvironmentFile: the image's sshd gets the job's variables
// through its environment file, one NAME=value a line, readable by the
// job user only; unset names are left out.
func TestSSHEnvironmentFile(t *testing.T) {
	t.Setenv("CASE_NAME", "wing 3")
	t.Setenv("EMPTY_ONE", "")
	p := filepath.Join(t.TempDir(), "environment")
	if err := writeSSHEnvironment(p, []string{"CASE_NAME", "EMPTY_ONE", "NOT_SET_ANYWHERE_X"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "CASE_NAME=wing 3\nEMPTY_ONE=\n" {
		t.Errorf("environment file %q", b)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
}
