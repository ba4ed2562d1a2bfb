package container

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// buildRoot assembles the container's root under spec.Dir/root and returns
// its path and the user's home directory. It must run in a fresh mount
// namespace: everything it mounts is private to it.
func buildRoot(s *Spec) (root, home string, err error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return "", "", fmt.Errorf("make mounts private: %w", err)
	}
	// Read before anything is mounted over the host's view.
	hostMounts, err := mountPoints()
	if err != nil {
		return "", "", err
	}
	if err := unix.Mount("scratch", s.Dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV,
		"mode=0755,size="+strconv.FormatInt(s.ScratchBytes, 10)); err != nil {
		return "", "", fmt.Errorf("scratch tmpfs on %s: %w", s.Dir, err)
	}
	upper, work := filepath.Join(s.Dir, "upper"), filepath.Join(s.Dir, "work")
	root = filepath.Join(s.Dir, "root")
	for _, d := range []string{upper, work, root} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", "", err
		}
	}
	if home, err = addUser(s, upper); err != nil {
		return "", "", err
	}
	// Overlayfs refuses lower layers inside one another, and every layer
	// directory is inside "/": copy them into the scratch tmpfs (they are
	// small: a binary's symlink, a whiteout).
	var layers []string
	for i, l := range s.Layers {
		dst := filepath.Join(s.Dir, "layer"+strconv.Itoa(i))
		if err := copyTree(l, dst); err != nil {
			return "", "", fmt.Errorf("image layer %s: %w", l, err)
		}
		layers = append(layers, dst)
	}
	lower := strings.Join(append(layers, "/"), ":")
	if err := unix.Mount("overlay", root, "overlay", 0,
		"lowerdir="+lower+",upperdir="+upper+",workdir="+work); err != nil {
		return "", "", fmt.Errorf("overlay root (lower %s): %w", lower, err)
	}
	if err := carryMounts(s, root, hostMounts); err != nil {
		return "", "", err
	}
	if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return "", "", fmt.Errorf("mount /proc: %w", err)
	}
	shm := filepath.Join(root, "dev", "shm")
	if err := os.MkdirAll(shm, 0o1777); err != nil {
		return "", "", err
	}
	if err := unix.Mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV,
		"mode=1777,size="+strconv.FormatInt(s.ShmBytes, 10)); err != nil {
		return "", "", fmt.Errorf("mount /dev/shm: %w", err)
	}
	for _, m := range s.Mounts {
		if err := bind(m.Source, filepath.Join(root, m.Target), m.ReadOnly, true); err != nil {
			return "", "", fmt.Errorf("volume mount %s: %w", m.Target, err)
		}
	}
	if s.HostsFile != "" {
		if err := bind(s.HostsFile, filepath.Join(root, "etc", "hosts"), true, false); err != nil {
			return "", "", fmt.Errorf("/etc/hosts: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "hostname"), []byte(s.Hostname+"\n"), 0o644); err != nil {
		return "", "", err
	}
	return root, home, nil
}

// carryMounts binds the host's mounts (but the root, /proc, /dev/shm and the
// skipped ones) at the same places in root, in mount order, so nested mounts
// land on their parents. /sys gets a fresh sysfs, which shows the pod's own
// network devices.
func carryMounts(s *Spec, root string, points []string) error {
	skip := append([]string{"/proc", "/dev/shm", "/run/netns", s.Dir}, s.SkipMounts...)
	for _, mp := range points {
		if mp == "/" || slicesContainsUnder(skip, mp) {
			continue
		}
		target := filepath.Join(root, mp)
		if mp == "/sys" {
			if err := unix.Mount("sysfs", target, "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
				return fmt.Errorf("mount /sys: %w", err)
			}
			continue
		}
		if err := bind(mp, target, false, false); err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
				continue // a mount point the overlay cannot show (e.g. under a hidden path)
			}
			return fmt.Errorf("carry mount %s: %w", mp, err)
		}
	}
	return nil
}

// slicesContainsUnder reports whether p is one of dirs or below one.
func slicesContainsUnder(dirs []string, p string) bool {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}

// bind bind-mounts source on target (with the mounts below source when
// recursive), creating target (a directory or an empty file, like source)
// when missing, read-only if asked.
func bind(source, target string, readOnly, recursive bool) error {
	st, err := os.Stat(source)
	if err != nil {
		return err
	}
	if st.IsDir() {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			f.Close()
		}
	}
	flags := uintptr(unix.MS_BIND)
	if recursive {
		flags |= unix.MS_REC
	}
	if err := unix.Mount(source, target, "", flags, ""); err != nil {
		return &os.PathError{Op: "bind " + source, Path: target, Err: err}
	}
	if readOnly {
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return &os.PathError{Op: "remount read-only", Path: target, Err: err}
		}
	}
	return nil
}

// mountPoints lists the mount points of this mount namespace in mount order.
func mountPoints() ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		out = append(out, unescapeMountPath(f[4]))
	}
	return out, sc.Err()
}

// unescapeMountPath decodes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// pivot makes root the process's root and drops the host's.
func pivot(root string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldRoot)
	if err := unix.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the host root: %w", err)
	}
	return unix.Chdir("/")
}

// copyTree copies the directory src to dst: directories, regular files,
// symbolic links and character devices (overlay whiteouts), with modes and
// owners.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, _ := info.Sys().(*syscall.Stat_t)
		mode := info.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(target, mode.Perm()); err != nil {
				return err
			}
		case mode&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case mode&os.ModeCharDevice != 0 && st != nil:
			if err := unix.Mknod(target, unix.S_IFCHR|uint32(mode.Perm()), int(st.Rdev)); err != nil {
				return err
			}
		case mode.IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, b, mode.Perm()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: file type %v not copied", p, mode.Type())
		}
		if st != nil {
			return os.Lchown(target, int(st.Uid), int(st.Gid))
		}
		return nil
	})
}
