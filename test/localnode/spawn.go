package localnode

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/flotilla-hpc/flotilla/test/localnode/container"
)

// InitCommand is the argument that makes flotilla-localnode run
// container.Init (the node re-executes itself for every container).
const InitCommand = "container-init"

// started is a running container-init process.
type started struct {
	cmd *exec.Cmd
	pid int
}

// spawn starts `self container-init` for spec with new mount, PID, UTS and
// IPC namespaces inside the network namespace netns, its output appended to
// log. It returns once the command runs, or with the reason it could not
// start (the process has then exited).
func spawn(self, netns string, spec *container.Spec, log *os.File) (*started, error) {
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		specR.Close()
		specW.Close()
		return nil, err
	}
	cmd := exec.Command(self, InitCommand)
	cmd.ExtraFiles = []*os.File{specR, statusW} // fds 3 and 4
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		// Dies with the node process; the kernel then kills the rest of
		// its PID namespace.
		Pdeathsig: syscall.SIGKILL,
		// Out of the node's process group: signals for the node process
		// are not the containers' (the node stops them itself).
		Setsid: true,
	}
	err = startInNetns(cmd, netns)
	specR.Close()
	statusW.Close()
	if err != nil {
		specW.Close()
		statusR.Close()
		return nil, err
	}
	err = json.NewEncoder(specW).Encode(spec)
	specW.Close()
	// One line: "started", or why not (then the child exits).
	line, _ := bufio.NewReader(statusR).ReadString('\n')
	statusR.Close()
	if msg := strings.TrimSpace(line); msg != container.StatusStarted || err != nil {
		cmd.Wait()
		if msg == "" && err != nil {
			msg = err.Error()
		}
		return nil, fmt.Errorf("%w: %s", errStart, msg)
	}
	return &started{cmd: cmd, pid: cmd.Process.Pid}, nil
}

// startInNetns starts cmd in the network namespace at path: the fork
// happens on an OS thread moved into it, whose namespace the child
// inherits; the thread moves back before it serves other goroutines.
func startInNetns(cmd *exec.Cmd, path string) error {
	target, err := os.Open(path)
	if err != nil {
		return err
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter %s: %w", path, err)
	}
	startErr := cmd.Start()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it ends with this goroutine rather than
		// run others in the pod's namespace. (Pdeathsig then fires for a
		// child it started: the container is lost, not leaked.)
		return fmt.Errorf("leave %s: %w", path, err)
	}
	runtime.UnlockOSThread()
	return startErr
}
