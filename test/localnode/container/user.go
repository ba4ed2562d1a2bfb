package container

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// addUser makes the container know its user, as podman does for a user the
// image lacks: when the host's /etc/passwd (the "image") has no entry for
// spec.UID, it writes passwd and group files with one added into upper (the
// root's writable layer) and creates the home directory there. It returns
// the user's home directory.
func addUser(s *Spec, upper string) (string, error) {
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return "", err
	}
	if home, ok := lookup(passwd, s.UID, 5); ok {
		return home, nil
	}
	home := "/home/" + s.UserName
	entry := fmt.Sprintf("%s:x:%d:%d:local node pod user:%s:/bin/sh\n", s.UserName, s.UID, s.GID, home)
	etc := filepath.Join(upper, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(etc, "passwd"), append(withNewline(passwd), entry...), 0o644); err != nil {
		return "", err
	}
	// A shadow entry as image users have (no password: "*"), so that PAM
	// (sshd with UsePAM) knows the account.
	if shadow, err := os.ReadFile("/etc/shadow"); err == nil {
		st, err := os.Stat("/etc/shadow")
		if err != nil {
			return "", err
		}
		line := s.UserName + ":*:19000:0:99999:7:::\n"
		p := filepath.Join(etc, "shadow")
		if err := os.WriteFile(p, append(withNewline(shadow), line...), st.Mode().Perm()); err != nil {
			return "", err
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			if err := os.Chown(p, int(sys.Uid), int(sys.Gid)); err != nil {
				return "", err
			}
		}
		if err := os.Chmod(p, st.Mode().Perm()); err != nil {
			return "", err
		}
	}
	group, err := os.ReadFile("/etc/group")
	if err != nil {
		return "", err
	}
	if _, ok := lookup(group, s.GID, -1); !ok {
		line := fmt.Sprintf("%s:x:%d:\n", s.UserName, s.GID)
		if err := os.WriteFile(filepath.Join(etc, "group"), append(withNewline(group), line...), 0o644); err != nil {
			return "", err
		}
	}
	// Parents as the image has them (0755), the home itself private.
	dir := filepath.Join(upper, home)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.Chown(dir, int(s.UID), int(s.GID)); err != nil {
		return "", err
	}
	return home, nil
}

// lookup finds the line of a passwd or group file whose third field is id
// and returns its field number field (-1: none).
func lookup(file []byte, id uint32, field int) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(file))
	want := strconv.FormatUint(uint64(id), 10)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) > 2 && f[2] == want {
			if field >= 0 && field < len(f) {
				return f[field], true
			}
			return "", true
		}
	}
	return "", false
}

func withNewline(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return append(b, '\n')
	}
	return b
}
