// Command flotilla-init is the program every pod of a Flotilla job runs.
//
//	flotilla-init copy --to DIR        (init container: put the binary into DIR)
//	flotilla-init run --role head|worker [flags] [-- COMMAND ARGS...]
//	flotilla-init guard --listen ADDR --backend HOST:PORT --token-file FILE [--shares-dir DIR]
//	                                   (sidecar of an interactive job's head: its token check)
//	flotilla-init -version
//
// It is built static (CGO_ENABLED=0) so it runs in any app image. The logic
// lives in clusteragent/runtime/initproc; this file maps flags to its Config.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc/arraytask"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  flotilla-init copy --to DIR
  flotilla-init run --role head|worker [flags] [-- COMMAND ARGS...]
  flotilla-init run --role head|worker --array 1-100%8 --array-slots 8 [flags] -- COMMAND ARGS...
  flotilla-init guard --listen ADDR --backend HOST:PORT --token-file FILE [--shares-dir DIR]
  flotilla-init -version
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return initproc.ExitUsage
	}
	var err error
	if version.IsFlag(args[0]) {
		fmt.Fprintln(stdout, version.String("flotilla-init"))
		return 0
	}
	switch args[0] {
	case "copy":
		err = runCopy(args[1:], stdout, stderr)
	case "run":
		var cfg initproc.Config
		if cfg, err = parseRun(args[1:], stdout, stderr); err == nil {
			err = initproc.Run(ctx, cfg)
		}
	case "guard":
		var cfg initproc.GuardConfig
		if cfg, err = parseGuard(args[1:], stderr); err == nil {
			err = initproc.RunGuard(ctx, cfg)
		}
	default:
		fmt.Fprint(stderr, usage)
		return initproc.ExitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "flotilla-init: %v\n", err)
	}
	return initproc.ExitCode(err)
}

func runCopy(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "", "directory to copy flotilla-init into")
	if err := fs.Parse(args); err != nil || *to == "" || fs.NArg() != 0 {
		return fmt.Errorf("%w: copy --to DIR", initproc.ErrUsage)
	}
	dst, err := initproc.CopySelf(*to)
	if err == nil {
		fmt.Fprintf(stdout, "flotilla-init: copied to %s\n", dst)
	}
	return err
}

// parseRun maps the flags of "run" to a Config; what follows the flags (or
// "--") is the head's command.
func parseRun(args []string, stdout, stderr io.Writer) (initproc.Config, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := initproc.Config{Stdout: stdout, Stderr: stderr}
	role := fs.String("role", "", "head or worker")
	fs.StringVar(&cfg.NodesFile, "nodes", "/etc/flotilla/nodes", "machinefile: one host per line, head first")
	fs.StringVar(&cfg.KeysDir, "keys", "/etc/flotilla/ssh", "directory holding the job's id_ed25519, id_ed25519.pub, authorized_keys")
	fs.StringVar(&cfg.SSHDir, "ssh-dir", "", "where to install keys and ssh config (default ~/.ssh of the current user)")
	fs.StringVar(&cfg.RunDir, "run-dir", "/tmp/flotilla-init", "directory for pid files")
	fs.StringVar(&cfg.BindAddr, "bind", "", "address to listen on (default all)")
	fs.IntVar(&cfg.SSHPort, "ssh-port", initproc.DefaultSSHPort, "SSH port of every node")
	fs.IntVar(&cfg.ControlPort, "control-port", initproc.DefaultControlPort, "the head's control port (job done)")
	sshd := fs.String("sshd", string(initproc.SSHDAuto), "SSH server: auto, system or builtin")
	fs.StringVar(&cfg.SSHDPath, "sshd-path", "/usr/sbin/sshd", "the image's sshd")
	fs.DurationVar(&cfg.PeerTimeout, "peer-timeout", 10*time.Minute, "how long to wait for all nodes")
	fs.DurationVar(&cfg.HeadTimeout, "head-timeout", time.Minute, "worker: how long to try reaching the head")
	fs.DurationVar(&cfg.Linger, "linger", 30*time.Second, "head: how long to wait for workers to hear it is done")
	array := fs.String("array", "", "run an array job: the indices as Slurm's --array writes them, e.g. 1-100:2%8 or 1,3,7-9%2 (every pod runs the command once per task it pulls)")
	arr := initproc.ArrayConfig{Now: time.Now}
	fs.IntVar(&arr.Slots, "array-slots", 1, "array: tasks this pod runs at once")
	fs.IntVar(&arr.Retries, "task-retries", 0, "array: attempts after a task's first failure")
	fs.DurationVar(&arr.TaskWalltime, "task-walltime", 0, "array: kill a task attempt after this long (0: no bound)")
	fs.StringVar(&arr.Journal, "array-journal", "", "array: the dispatcher's journal (default RUN-DIR/array-journal)")
	fs.StringVar(&arr.JobID, "array-job-id", "", "array: SLURM_ARRAY_JOB_ID of the tasks")
	fs.DurationVar(&arr.ProgressEvery, "array-progress", time.Second, "array: how often the head prints its progress line")
	fs.StringVar(&arr.CancelFile, "array-cancel-file", "", "array head: file listing canceled tasks as index ranges (read every second)")
	fs.StringVar(&arr.OutputFile, "array-output-file", "", "array head: file listing the tasks whose output the hub asks for, INDEX@SEQ,... (read every second)")
	arr.CancelEvery = time.Second
	cpuBind := fs.String("task-cpu-bind", "", "array: none, or slots: each slot's tasks run on CPUs of its own (default "+string(arraytask.DefaultCPUBind)+", or $"+arraytask.CPUBindVar+")")
	fs.DurationVar(&arr.LeaseTTL, "task-lease", initproc.DefaultTaskLease, "array: a worker silent this long loses its tasks to the others")
	fs.StringVar(&cfg.Workdir, "workdir", "", "where the command, array tasks and built-in SSH sessions start (must exist)")
	fs.StringVar(&cfg.SignalsFile, "signals-file", "", "file of the job's signal requests (\"SEQ SIGNAL all|batch\" lines), read every second; each is delivered once")
	fs.DurationVar(&cfg.Walltime, "walltime", 0, "the job's walltime, for a signal before it ends (--signal-at)")
	fs.StringVar(&cfg.SignalAt, "signal-at", "", "with --walltime: send [B:]SIG TIME seconds before the walltime ends, once: [B:]SIG[@TIME] (default $"+structs.JobSignalAtVar+")")
	fs.StringVar(&cfg.JobStartFile, "job-start-file", "", "file of the job's start (RFC 3339) the walltime counts from (default: this process's start)")
	jobEnv := fs.String("job-env", "", "names of the job's own variables, comma-separated (passed to the image's sshd's sessions)")
	verbose := fs.Bool("v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, fmt.Errorf("%w: help requested", initproc.ErrUsage)
		}
		return cfg, fmt.Errorf("%w: %w", initproc.ErrUsage, err)
	}
	cfg.Role = initproc.Role(*role)
	cfg.SSHD = initproc.SSHDMode(*sshd)
	cfg.Command = fs.Args()
	if *jobEnv != "" {
		cfg.JobEnv = strings.Split(*jobEnv, ",")
	}
	if cfg.SignalAt == "" && cfg.Walltime > 0 {
		cfg.SignalAt = os.Getenv(structs.JobSignalAtVar)
	}
	cfg.Started, cfg.Now = time.Now(), time.Now
	if *array != "" {
		spec, err := structs.ParseArraySpec(*array)
		if err != nil {
			return cfg, fmt.Errorf("%w: %w", initproc.ErrUsage, err)
		}
		arr.Spec = spec
		if *cpuBind == "" {
			*cpuBind = os.Getenv(arraytask.CPUBindVar)
		}
		if arr.CPUBind, err = arraytask.ParseCPUBind(*cpuBind); err != nil {
			return cfg, fmt.Errorf("%w: %w", initproc.ErrUsage, err)
		}
		if arr.Worker, err = os.Hostname(); err != nil {
			return cfg, fmt.Errorf("%w: %w", initproc.ErrSetup, err)
		}
		cfg.Array = &arr
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("prog", "flotilla-init")
	return cfg, nil
}

// parseGuard maps the flags of "guard" to a GuardConfig.
func parseGuard(args []string, stderr io.Writer) (initproc.GuardConfig, error) {
	fs := flag.NewFlagSet("guard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg initproc.GuardConfig
	fs.StringVar(&cfg.Listen, "listen", ":2224", "address the ingress controller reaches the job at")
	fs.StringVar(&cfg.Backend, "backend", "", "the app's HOST:PORT (in the pod: 127.0.0.1:PORT)")
	fs.StringVar(&cfg.TokenFile, "token-file", "", "file holding the job's token")
	fs.StringVar(&cfg.SharesDir, "shares-dir", "", "directory of share-link tokens (one file each; removing one revokes it)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return cfg, fmt.Errorf("%w: guard --listen ADDR --backend HOST:PORT --token-file FILE [--shares-dir DIR]", initproc.ErrUsage)
	}
	cfg.Log = slog.New(slog.NewTextHandler(stderr, nil)).With("prog", "flotilla-init guard")
	cfg.Now = time.Now // share links' expiry
	return cfg, nil
}
