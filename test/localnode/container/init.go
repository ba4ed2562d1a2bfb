package container

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Init runs a container: it reads the spec from specR, sets up the
// namespaces it was started in, starts the command and reports "started"
// (or the reason it could not) on status, then serves as the PID
// namespace's init until the command exits. It returns the exit status for
// the process: the command's own, 128+N when signal N killed it, or
// ExitStartError. The command's output goes where Init's own does.
func Init(specR io.Reader, status io.WriteCloser) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "flotilla-localnode: container start failed: %v\n", err)
		fmt.Fprintf(status, "%v\n", err)
		status.Close()
		return ExitStartError
	}
	s, err := ReadSpec(specR)
	if err != nil {
		return fail(err)
	}
	if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
		return fail(fmt.Errorf("hostname: %w", err))
	}
	root, home, err := buildRoot(s)
	if err != nil {
		return fail(err)
	}
	if err := pivot(root); err != nil {
		return fail(err)
	}
	// Forward the signals the node sends (SIGTERM on deletion) to the
	// command; registered before the start so none is lost.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	pid, err := start(s, home)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintln(status, StatusStarted)
	status.Close()
	go func() {
		for sig := range sigs {
			syscall.Kill(pid, sig.(syscall.Signal))
		}
	}()
	return reap(pid)
}

// start starts the command as the pod's user in a session of its own with
// stdin from /dev/null and the output Init has.
func start(s *Spec, home string) (int, error) {
	env := withDefaults(s.Env, home)
	argv0, err := lookPath(s.Argv[0], env)
	if err != nil {
		return 0, err
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer null.Close()
	dir := s.WorkDir
	if dir == "" {
		dir = "/"
	}
	groups := s.Groups
	if groups == nil {
		groups = []uint32{}
	}
	pid, err := syscall.ForkExec(argv0, s.Argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{null.Fd(), os.Stdout.Fd(), os.Stderr.Fd()},
		Sys: &syscall.SysProcAttr{
			Setsid:     true,
			Credential: &syscall.Credential{Uid: s.UID, Gid: s.GID, Groups: groups},
		},
	})
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", argv0, err)
	}
	return pid, nil
}

// withDefaults adds HOME and PATH when the pod's environment lacks them, as
// container runtimes do.
func withDefaults(env []string, home string) []string {
	has := func(k string) bool {
		for _, e := range env {
			if strings.HasPrefix(e, k+"=") {
				return true
			}
		}
		return false
	}
	out := append([]string{}, env...)
	if !has("PATH") {
		out = append(out, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if !has("HOME") && home != "" {
		out = append(out, "HOME="+home)
	}
	return out
}

// lookPath resolves a command name through the container's PATH.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: executable file not found in $PATH", name)
}

// reap waits for every child (orphans re-parent to this init) until the
// command exits, and returns its status.
func reap(pid int) int {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return ExitStartError // no children left: cannot happen before pid exits
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}
