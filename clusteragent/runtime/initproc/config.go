// Package initproc is the logic of flotilla-init, the static program every
// pod of a job runs. An init container copies it into a shared volume
// (CopySelf); the app container then runs it (Run) to install the job's SSH
// keys for the job user, serve SSH (the image's sshd when it can, else a
// built-in server), wait until every node of the machinefile resolves and
// its SSH server answers, and then, on the head, run the AppDef command and
// release the workers when it ends; workers serve until the head is done.
//
// Every path is part of Config, so several "pods" can run on one host in tests.
package initproc

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Names of the files the job Secret holds and the key directory provides.
const (
	PrivateKeyFile     = "id_ed25519"
	PublicKeyFile      = "id_ed25519.pub"
	AuthorizedKeysFile = "authorized_keys"
)

// Defaults of the ports every pod serves. Both are above 1024 so an
// unprivileged job user can bind them.
const (
	DefaultSSHPort     = 2222
	DefaultControlPort = 2223
)

// Role is what a pod does in its job.
type Role string

// Roles.
const (
	RoleHead   Role = "head"   // runs the command; its exit ends the job
	RoleWorker Role = "worker" // serves SSH until the head is done
)

// SSHDMode picks the SSH server.
type SSHDMode string

// SSH server modes.
const (
	// SSHDAuto uses the image's sshd when it exists and the current user has
	// a passwd entry (sshd needs one), else the built-in server.
	SSHDAuto    SSHDMode = "auto"
	SSHDSystem  SSHDMode = "system"  // the image's sshd, or fail
	SSHDBuiltin SSHDMode = "builtin" // the built-in server
)

// Config is everything Run needs; cmd/flotilla-init fills it from flags.
type Config struct {
	Role      Role
	NodesFile string // machinefile: one host per line, head first
	KeysDir   string // holds PrivateKeyFile, PublicKeyFile, AuthorizedKeysFile
	// SSHDir receives the keys and an ssh client config for the job's hosts;
	// empty means ~/.ssh of the current user.
	SSHDir string
	RunDir string // pid file and other run-time files; created if missing

	BindAddr    string // address the servers listen on; empty is all
	SSHPort     int
	ControlPort int // the head's "job done" port

	SSHD     SSHDMode
	SSHDPath string // the image's sshd, e.g. /usr/sbin/sshd

	PeerTimeout time.Duration // bound on waiting for all nodes
	HeadTimeout time.Duration // worker: bound on reaching the head's control port
	Linger      time.Duration // head: bound on waiting for workers to take "done"

	Command []string // head only: the program and its arguments

	// Workdir, when set, is where the command, array tasks and the
	// built-in SSH server's sessions start; Run fails with ErrWorkdir,
	// before anything starts, when it is not a directory on this node.
	Workdir string
	// JobEnv names the variables of the job's own environment (set in
	// this process's environment by the pod): the image's sshd is told to
	// set them in its sessions too, as the built-in server does with its
	// whole environment.
	JobEnv []string

	// SignalsFile, when set, lists the job's signal requests (see
	// signals.go), read every SignalEvery (0: DefaultSignalEvery).
	SignalsFile string
	SignalEvery time.Duration
	// SignalAt, when set, is the job's signal before the walltime ends
	// ("[B:]SIG[@TIME]", structs.ParseSignalAt), sent TIME before the
	// end of Walltime counted from the pods' start in JobStartFile, else
	// from Started (see signal_at.go), on the clock Now.
	SignalAt     string
	Walltime     time.Duration
	JobStartFile string
	Started      time.Time
	Now          func() time.Time

	// Array, when set, runs an array job (see ArrayConfig): every pod
	// takes the command and runs it once per task it pulls.
	Array *ArrayConfig

	Stdout io.Writer // the command's output; nil discards
	Stderr io.Writer
	Logger *slog.Logger // nil discards
}

// Validate checks c and returns an error wrapping ErrUsage.
func (c *Config) Validate() error {
	switch c.Role {
	case RoleHead:
		if len(c.Command) == 0 {
			return fmt.Errorf("%w: the head needs a command", ErrUsage)
		}
	case RoleWorker:
		if c.Array != nil && len(c.Command) == 0 {
			return fmt.Errorf("%w: an array worker needs the command", ErrUsage)
		}
		if c.Array == nil && len(c.Command) != 0 {
			return fmt.Errorf("%w: a worker takes no command", ErrUsage)
		}
	default:
		return fmt.Errorf("%w: role %q (want head or worker)", ErrUsage, c.Role)
	}
	if c.SignalAt != "" {
		if _, err := structs.ParseSignalAt(c.SignalAt); err != nil {
			return fmt.Errorf("%w: signal before the walltime: %w", ErrUsage, err)
		}
		if c.Walltime <= 0 || c.Now == nil {
			return fmt.Errorf("%w: a signal before the walltime needs the walltime and a clock", ErrUsage)
		}
	}
	switch c.SSHD {
	case SSHDAuto, SSHDSystem, SSHDBuiltin:
	default:
		return fmt.Errorf("%w: sshd mode %q (want auto, system or builtin)", ErrUsage, c.SSHD)
	}
	switch {
	case c.NodesFile == "":
		return fmt.Errorf("%w: no nodes file", ErrUsage)
	case c.KeysDir == "":
		return fmt.Errorf("%w: no keys directory", ErrUsage)
	case c.RunDir == "":
		return fmt.Errorf("%w: no run directory", ErrUsage)
	case c.SSHPort < 1 || c.SSHPort > 65535 || c.ControlPort < 1 || c.ControlPort > 65535:
		return fmt.Errorf("%w: ports %d and %d", ErrUsage, c.SSHPort, c.ControlPort)
	case c.SSHPort == c.ControlPort:
		return fmt.Errorf("%w: ssh and control port are both %d", ErrUsage, c.SSHPort)
	case c.PeerTimeout <= 0 || c.HeadTimeout <= 0 || c.Linger <= 0:
		return fmt.Errorf("%w: timeouts must be positive", ErrUsage)
	}
	if c.Array != nil {
		return c.Array.validate()
	}
	return nil
}

// Kinds of failure Run reports; ExitCode maps each to an exit status.
var (
	ErrUsage       = errors.New("usage")
	ErrSetup       = errors.New("setup failed")
	ErrPeerTimeout = errors.New("peers not ready before the timeout")
	ErrHeadLost    = errors.New("lost the head before it was done")
	ErrWorkdir     = errors.New("the job's working directory is missing")
)

// Exit statuses of flotilla-init besides the head command's own.
const (
	ExitUsage       = 2
	ExitSetup       = 70 // keys, sshd or listeners could not be set up
	ExitPeerTimeout = 75 // some node never resolved or accepted connections
	ExitHeadLost    = 76 // worker: the head went away without saying it was done
	ExitNoWorkdir   = 72 // the job's working directory is not a directory on this node
	ExitSignaled    = 143
)

// CommandError is the head command's non-zero exit; flotilla-init exits
// with the same status.
type CommandError struct {
	Code int
}

func (e *CommandError) Error() string { return fmt.Sprintf("command exited with status %d", e.Code) }

// ExitCode maps an error returned by Run to the process exit status.
func ExitCode(err error) int {
	var ce *CommandError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ce):
		return ce.Code
	case errors.Is(err, ErrUsage):
		return ExitUsage
	case errors.Is(err, ErrPeerTimeout):
		return ExitPeerTimeout
	case errors.Is(err, ErrHeadLost):
		return ExitHeadLost
	case errors.Is(err, ErrWorkdir):
		return ExitNoWorkdir
	case errors.Is(err, errSignaled):
		return ExitSignaled
	}
	return ExitSetup
}

var errSignaled = errors.New("stopped by a signal")

// ExitMeaning says what an exit status of flotilla-init's own means
// ("" for the others, the command's): the agent adds it to a failed pod's
// reason.
func ExitMeaning(code int) string {
	switch code {
	case ExitSetup:
		return "flotilla-init could not set up keys, sshd or its ports"
	case ExitNoWorkdir:
		return "the job's working directory does not exist on the node"
	case ExitPeerTimeout:
		return "some node never became reachable"
	case ExitHeadLost:
		return "the head went away"
	}
	return ""
}
