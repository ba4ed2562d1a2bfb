// Package proc starts and stops the binaries that tests, benchmarks and
// the demo run as real OS processes (the control-plane tools, the shipped
// Flotilla commands): each in its own process group, killed by the kernel
// if the test process dies first, its output in a log file.
package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/flotilla-hpc/flotilla/internal/loopport"
)

// Process is one started binary.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

// Options tune Start.
type Options struct {
	// Env is added to the process's environment (KEY=VALUE).
	Env []string
	// Append keeps what LogPath holds and writes after it (a restarted
	// process logging to the same file).
	Append bool
}

// Start starts bin with args in dir, logging stdout and stderr to
// dir/name.log. The child gets its own process group (so Stop reaches
// anything it forks) and is killed by the kernel if the test process dies
// first (Pdeathsig), so a test binary that panics or times out leaves
// nothing behind.
func Start(dir, name, bin string, args []string, opts Options) (*Process, error) {
	logPath := filepath.Join(dir, name+".log")
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if opts.Append {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(logPath, flags, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.Dir = dir
	if len(opts.Env) > 0 {
		cmd.Env = append(os.Environ(), opts.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process ended (nil for exit status 0); valid once Done
// is closed.
func (p *Process) Err() error { return p.err }

// ExitCode is the exit status, -1 while running or when killed by a signal.
func (p *Process) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Stop sends SIGTERM to the process group, waits up to grace, then SIGKILLs
// the group and waits for the exit.
func (p *Process) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Reap anything left in the group (children of the child).
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// Kill sends SIGKILL to the process group — no chance to flush, sync or
// say goodbye, as when a machine loses power under the process — and
// waits for the exit.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Tail returns the last n lines of the process log.
func (p *Process) Tail(n int) string { return TailFile(p.LogPath, n) }

// TailFile returns the last n lines of a file.
func TailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreePorts reserves n distinct loopback TCP ports, free when it returns,
// for programs the caller starts. They come from internal/loopport: below
// the kernel's ephemeral range, so no other process's listen on ":0"
// takes one before the program binds it (or between a kill and a restart
// on the same port), and held for this process's life, so no other test
// process gets them either.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		p, err := loopport.Reserve()
		if err != nil {
			return nil, err
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// ErrToolMissing means a binary has not been built.
var ErrToolMissing = errors.New("binary missing")

// FindBin locates a built binary: $FLOTILLA_BIN, else ./bin at the module
// root (`make build` and `make tools` put them there).
func FindBin(name string) (string, error) {
	dirs := []string{}
	if d := os.Getenv("FLOTILLA_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	if root, err := ModuleRoot(); err == nil {
		dirs = append(dirs, filepath.Join(root, "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s not found in %v (run `make build tools`)", ErrToolMissing, name, dirs)
}

// ModuleRoot walks up from the working directory to the directory holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}
