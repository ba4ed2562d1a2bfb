package localnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// State is a node process's state directory: what it made, recorded before
// it is made, so that a later start can remove what a killed process left.
//
//	netns/<name>        one empty file per network namespace
//	pods/               a tmpfs: one directory per pod (volumes, logs, hosts)
//	pods/<uid>/pids/<c> "PID STARTTIME" of container c's init process
type State struct {
	Dir string
	log *slog.Logger
}

// NewState returns the state directory dir (created if missing).
func NewState(dir string, log *slog.Logger) (*State, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{abs, filepath.Join(abs, "netns"), filepath.Join(abs, "pods")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	return &State{Dir: abs, log: log}, nil
}

// PodsDir holds the pods' directories.
func (s *State) PodsDir() string { return filepath.Join(s.Dir, "pods") }

// MountPods mounts the tmpfs for pod files (size bytes).
func (s *State) MountPods(size int64) error {
	if err := unix.Mount("flotilla-localnode", s.PodsDir(), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV,
		"mode=0711,size="+strconv.FormatInt(size, 10)); err != nil {
		return fmt.Errorf("tmpfs on %s: %w", s.PodsDir(), err)
	}
	return nil
}

// RecordNS records a network namespace about to be made.
func (s *State) RecordNS(name string) error {
	return os.WriteFile(filepath.Join(s.Dir, "netns", name), nil, 0o600)
}

// ForgetNS drops the record of a deleted namespace.
func (s *State) ForgetNS(name string) {
	os.Remove(filepath.Join(s.Dir, "netns", name))
}

// RecordPID records a container's init process.
func (s *State) RecordPID(podDir, container string, pid int) error {
	st, err := startTime(pid)
	if err != nil {
		return err
	}
	dir := filepath.Join(podDir, "pids")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, container), fmt.Appendf(nil, "%d %d\n", pid, st), 0o600)
}

// Clean removes everything the state directory records: it kills the
// recorded processes still running (each is the init of its container's
// PID namespace: the kernel then kills the rest), deletes the recorded
// namespaces, unmounts what is mounted below the directory and removes the
// pod files. It returns what it removed, for the log, and the first error.
func (s *State) Clean(ctx context.Context, ip string) (Cleaned, error) {
	var c Cleaned
	var errs []error
	pidFiles, _ := filepath.Glob(filepath.Join(s.PodsDir(), "*", "pids", "*"))
	for _, f := range pidFiles {
		pid, ok := liveRecorded(f)
		if !ok {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			c.Processes++
			waitGone(ctx, pid)
		}
	}
	nsFiles, _ := os.ReadDir(filepath.Join(s.Dir, "netns"))
	for _, e := range nsFiles {
		if nsExists(e.Name()) {
			if err := DeleteNS(ctx, ip, e.Name()); err != nil {
				errs = append(errs, err)
				continue
			}
			c.Namespaces++
		}
		s.ForgetNS(e.Name())
	}
	mounts, err := MountsUnder(s.Dir)
	if err != nil {
		errs = append(errs, err)
	}
	for _, m := range mounts { // deepest first
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
			continue
		}
		c.Mounts++
	}
	entries, _ := os.ReadDir(s.PodsDir())
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.PodsDir(), e.Name())); err != nil {
			errs = append(errs, err)
		}
		c.PodDirs++
	}
	return c, errors.Join(errs...)
}

// Cleaned counts what Clean removed.
type Cleaned struct{ Processes, Namespaces, Mounts, PodDirs int }

// liveRecorded returns the PID a pid file records when that process still
// runs (same start time: not a reused PID).
func liveRecorded(file string) (int, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, false
	}
	pid, err1 := strconv.Atoi(f[0])
	st, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 1 {
		return 0, false
	}
	now, err := startTime(pid)
	return pid, err == nil && now == st
}

// startTime is a process's start time in clock ticks since boot (field 22
// of /proc/PID/stat).
func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// waitGone waits (at most 10 s) until pid no longer exists.
func waitGone(ctx context.Context, pid int) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for syscall.Kill(pid, 0) == nil {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// MountsUnder lists the mount points at or below dir in this mount
// namespace, deepest (last mounted) first.
func MountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if mp := f[4]; mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	slices.Reverse(out)
	return out, nil
}

// NamespacesWithPrefix lists the named network namespaces starting with prefix.
func NamespacesWithPrefix(prefix string) []string {
	entries, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func nsExists(name string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", name))
	return err == nil
}
