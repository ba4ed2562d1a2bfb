package initproc

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// writeTestKeys writes a fresh job key set into dir and returns its signer.
func writeTestKeys(t *testing.T, dir string) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub := ssh.MarshalAuthorizedKey(signer.PublicKey())
	for name, data := range map[string][]byte{
		PrivateKeyFile:     pem.EncodeToMemory(block),
		PublicKeyFile:      pub,
		AuthorizedKeysFile: pub,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return signer
}

// startTestServer serves the built-in SSH server on loopback and returns
// its address and the job signer; the server is closed at cleanup.
func startTestServer(t *testing.T) (*SSHServer, string, ssh.Signer) {
	t.Helper()
	dir := t.TempDir()
	signer := writeTestKeys(t, dir)
	keys, err := ReadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewSSHServer(keys, nil)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, ln.Addr().String(), signer
}

func dialTest(t *testing.T, addr string, signer ssh.Signer) *ssh.Client {
	t.Helper()
	c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            "anyone",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(signer.PublicKey()), // the job key is the host key
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSSHServerExec(t *testing.T) {
	_, addr, signer := startTestServer(t)
	client := dialTest(t, addr, signer)
	cases := map[string]struct {
		cmd, stdin, env string
		stdout, stderr  string
		status          int
	}{
		"output and status":    {cmd: "echo out; echo err >&2; exit 3", stdout: "out\n", stderr: "err\n", status: 3},
		"success":              {cmd: "true"},
		"stdin":                {cmd: "tr a-z A-Z", stdin: "hello\n", stdout: "HELLO\n"},
		"env request":          {cmd: `echo "$FLOTILLA_TEST_VAR"`, env: "from-client", stdout: "from-client\n"},
		"killed by signal":     {cmd: "kill -TERM $$", status: 128 + 15},
		"output after a while": {cmd: "sleep 0.2; echo late", stdout: "late\n"},
		// As under sshd: a session of its own (session id = own pid, no
		// terminal) and the login variables.
		"own session": {cmd: `ps -o sid= -p $$ | tr -d ' '; echo $$`, stdout: "SAME"},
		"login environment": {cmd: `echo "$SHELL"; echo "$SSH_CONNECTION" | cut -d' ' -f1,3; test -n "$HOME" && echo home`,
			stdout: "/bin/sh\n127.0.0.1 127.0.0.1\nhome\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := client.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if tc.env != "" {
				if err := s.Setenv("FLOTILLA_TEST_VAR", tc.env); err != nil {
					t.Fatal(err)
				}
			}
			var out, errOut bytes.Buffer
			s.Stdout, s.Stderr = &out, &errOut
			s.Stdin = strings.NewReader(tc.stdin)
			err = s.Run(tc.cmd)
			status := 0
			var ee *ssh.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitStatus()
			} else if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tc.stdout == "SAME" { // two lines that must be equal
				if l := strings.Fields(out.String()); len(l) == 2 && l[0] == l[1] {
					out.Reset()
					out.WriteString("SAME")
				}
			}
			if status != tc.status || out.String() != tc.stdout || errOut.String() != tc.stderr {
				t.Errorf("status %d stdout %q stderr %q; want %d %q %q",
					status, out.String(), errOut.String(), tc.status, tc.stdout, tc.stderr)
			}
		})
	}
}

func TestSSHServerRejectsOtherKeys(t *testing.T) {
	_, addr, signer := startTestServer(t)
	_, other, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherSigner, err := ssh.NewSignerFromKey(other)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            "anyone",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(otherSigner)},
		HostKeyCallback: ssh.FixedHostKey(signer.PublicKey()),
		Timeout:         10 * time.Second,
	})
	if err == nil {
		t.Fatal("a key outside authorized_keys logged in")
	}
}

func TestSSHServerRejectsPTY(t *testing.T) {
	_, addr, signer := startTestServer(t)
	s, err := dialTest(t, addr, signer).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err == nil {
		t.Error("pty request accepted; the server has no terminals")
	}
}

// A session whose command outlives the server ends when the server closes,
// like orted when the job ends.
func TestSSHServerCloseEndsSessions(t *testing.T) {
	srv, addr, signer := startTestServer(t)
	s, err := dialTest(t, addr, signer).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("echo started; exec sleep 600"); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, len("started\n"))
	if _, err := out.Read(line); err != nil || string(line) != "started\n" {
		t.Fatalf("read %q: %v", line, err)
	}
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	waited := make(chan error, 1)
	go func() { waited <- s.Wait() }()
	deadline := time.After(2 * killGrace)
	for range 2 {
		select {
		case <-closed:
			closed = nil
		case <-waited:
			waited = nil
		case <-deadline:
			t.Fatal("Close did not end the running session")
		}
	}
}
