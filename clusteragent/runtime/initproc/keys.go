package initproc

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Keys is the job's SSH identity, read from the key directory.
type Keys struct {
	Signer     ssh.Signer      // the private key; also the servers' host key
	Authorized []ssh.PublicKey // keys allowed to log in
	private    []byte
	public     []byte
	authorized []byte
}

// ReadKeys reads and parses the key files in dir.
func ReadKeys(dir string) (*Keys, error) {
	var k Keys
	for _, f := range []struct {
		name string
		dst  *[]byte
	}{{PrivateKeyFile, &k.private}, {PublicKeyFile, &k.public}, {AuthorizedKeysFile, &k.authorized}} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return nil, fmt.Errorf("%w: read job key: %w", ErrSetup, err)
		}
		*f.dst = b
	}
	signer, err := ssh.ParsePrivateKey(k.private)
	if err != nil {
		return nil, fmt.Errorf("%w: parse %s: %w", ErrSetup, PrivateKeyFile, err)
	}
	k.Signer = signer
	rest := k.authorized
	for len(bytes.TrimSpace(rest)) > 0 {
		pk, _, _, r, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: parse %s: %w", ErrSetup, AuthorizedKeysFile, err)
		}
		k.Authorized = append(k.Authorized, pk)
		rest = r
	}
	if len(k.Authorized) == 0 {
		return nil, fmt.Errorf("%w: %s lists no key", ErrSetup, AuthorizedKeysFile)
	}
	return &k, nil
}

// IsAuthorized reports whether pk may log in.
func (k *Keys) IsAuthorized(pk ssh.PublicKey) bool {
	m := pk.Marshal()
	for _, a := range k.Authorized {
		if bytes.Equal(a.Marshal(), m) {
			return true
		}
	}
	return false
}

// DefaultSSHDir returns ~/.ssh of the current user: the home directory of
// its passwd entry (what the ssh client uses), else $HOME.
func DefaultSSHDir() (string, error) {
	if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil && u.HomeDir != "" {
		return filepath.Join(u.HomeDir, ".ssh"), nil
	}
	if h := os.Getenv("HOME"); h != "" && h != "/" {
		return filepath.Join(h, ".ssh"), nil
	}
	return "", fmt.Errorf("%w: uid %d has no home directory; set the ssh directory", ErrUsage, os.Getuid())
}

// Install writes the keys into sshDir (mode 700): the private key and
// authorized_keys with mode 600, the public key 644, and an ssh client
// config (600) that reaches the job's hosts on port with the job key and no
// host key checking (host keys are per job and never known in advance).
func (k *Keys) Install(sshDir string, hosts []string, port int) error {
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}
	if err := os.Chmod(sshDir, 0o700); err != nil {
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{PrivateKeyFile, k.private, 0o600},
		{PublicKeyFile, k.public, 0o644},
		{AuthorizedKeysFile, k.authorized, 0o600},
		{"config", clientConfig(sshDir, hosts, port), 0o600},
	}
	for _, f := range files {
		if err := writeFileMode(filepath.Join(sshDir, f.name), f.data, f.mode); err != nil {
			return fmt.Errorf("%w: %w", ErrSetup, err)
		}
	}
	return nil
}

// clientConfig is the ssh client config for the job's hosts. Open MPI
// drops the domain of the machinefile's names ("j7-1.j7" becomes "j7-1",
// unless orte_keep_fqdn_hostnames is set) before it runs `ssh HOST`, so
// each short name also matches, and connects to the full name.
func clientConfig(sshDir string, hosts []string, port int) []byte {
	var b strings.Builder
	b.WriteString("# Written by flotilla-init for this job's nodes.\n")
	names := slices.Clone(hosts)
	for _, h := range hosts {
		short, _, ok := strings.Cut(h, ".")
		if !ok || net.ParseIP(h) != nil || slices.Contains(names, short) {
			continue
		}
		fmt.Fprintf(&b, "Host %s\n  HostName %s\n", short, h)
		names = append(names, short)
	}
	b.WriteString("Host " + strings.Join(names, " ") + "\n")
	fmt.Fprintf(&b, "  Port %d\n", port)
	fmt.Fprintf(&b, "  IdentityFile %s\n", filepath.Join(sshDir, PrivateKeyFile))
	b.WriteString("  IdentitiesOnly yes\n")
	b.WriteString("  StrictHostKeyChecking no\n")
	b.WriteString("  UserKnownHostsFile /dev/null\n")
	b.WriteString("  BatchMode yes\n")
	b.WriteString("  LogLevel ERROR\n")
	return []byte(b.String())
}

// writeFileMode writes data to path atomically and leaves it with mode,
// whatever the umask or an earlier file's mode.
func writeFileMode(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
