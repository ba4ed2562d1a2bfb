package initproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Signals to a running job (the hub's Job.Signals). The agent writes the
// job's requests on every pod's annotation, shown here as the file
// Config.SignalsFile, one "SEQ SIGNAL SCOPE" line each ("3 10 batch").
// flotilla-init reads it every SignalEvery and delivers each request whose
// SEQ is past the last it delivered, which it remembers in its run
// directory (signalStateFile), so a rewritten file or a restarted
// flotilla-init delivers nothing twice:
//
//   - scope "all": to every process group flotilla-init's processes
//     started on this node: the head's command, the commands of SSH
//     sessions (an sshd's own processes excepted), an array job's running
//     tasks;
//   - scope "batch": on the head only, to the command's own process (not
//     its children; Slurm's --batch); an array head, which has no command
//     of its own, to its running tasks.
//
// Each delivery is logged on the job's output: "flotilla: signal USR1
// delivered (request 3)".

// signalStateFile, in the run directory, holds the last request delivered.
const signalStateFile = "signals-delivered"

// DefaultSignalEvery is how often the requests file is read.
const DefaultSignalEvery = time.Second

// signalRequest is one line of the requests file.
type signalRequest struct {
	seq, sig int
	batch    bool
}

// parseSignalRequests reads the requests file's lines; a line that does
// not read is skipped (and reported), the others still count.
func parseSignalRequests(text string) (reqs []signalRequest, bad []string) {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var r signalRequest
		var err1, err2 error
		if len(f) == 3 {
			r.seq, err1 = strconv.Atoi(f[0])
			r.sig, err2 = strconv.Atoi(f[1])
		}
		if len(f) != 3 || err1 != nil || err2 != nil || r.seq < 1 || r.sig < 1 || r.sig > 64 || (f[2] != "all" && f[2] != "batch") {
			bad = append(bad, line)
			continue
		}
		r.batch = f[2] == "batch"
		reqs = append(reqs, r)
	}
	return reqs, bad
}

// signaler delivers the requests of one pod.
type signaler struct {
	path  string // the requests file
	state string // the last request delivered
	head  bool
	// main is the head's command's pid once it runs (0 before and for an
	// array job); root is the process whose descendants are the job's.
	main *atomic.Int64
	root int
	out  io.Writer
	log  *slog.Logger
	// timed is the job's signal before the walltime ends, if it asked
	// for one (signal_at.go).
	timed *timedSignal
}

// newSignaler returns the signaler of cfg, or nil when it has neither a
// requests file nor a signal before the walltime ends.
func newSignaler(cfg *Config, main *atomic.Int64, log *slog.Logger) *signaler {
	timed := newTimedSignal(cfg)
	if cfg.SignalsFile == "" && timed == nil {
		return nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &signaler{path: cfg.SignalsFile, state: filepath.Join(cfg.RunDir, signalStateFile), head: cfg.Role == RoleHead,
		main: main, root: os.Getpid(), out: cfg.Stdout, log: log, timed: timed}
}

// watch delivers new requests every interval until ctx ends.
func (s *signaler) watch(ctx context.Context, every time.Duration) {
	if s == nil {
		return
	}
	if every <= 0 {
		every = DefaultSignalEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.deliverNew()
		s.deliverDue()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// deliverNew delivers the requests past the last one delivered, in order,
// recording each before the next.
func (s *signaler) deliverNew() {
	if s.path == "" {
		return
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("signal requests unreadable", "file", s.path, "err", err)
		}
		return
	}
	reqs, bad := parseSignalRequests(string(b))
	for _, line := range bad {
		s.log.Warn("signal request unreadable: skipped", "line", line)
	}
	last := s.lastDelivered()
	for _, r := range reqs {
		if r.seq <= last {
			continue
		}
		s.deliver(r)
		if err := writeFileAtomic(s.state, []byte(strconv.Itoa(r.seq)+"\n")); err != nil {
			s.log.Error("delivered signal not recorded: it may be delivered again", "request", r.seq, "err", err)
		}
		last = r.seq
	}
}

func (s *signaler) lastDelivered() int {
	b, err := os.ReadFile(s.state)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// deliver sends one request to this node's processes of the job.
func (s *signaler) deliver(r signalRequest) {
	name := structs.SignalName(r.sig)
	if r.batch && !s.head {
		s.log.Debug("signal for the head's main process only", "request", r.seq, "signal", name)
		return
	}
	groups, err := s.send(r.sig, r.batch)
	s.report(name, "request "+strconv.Itoa(r.seq), groups, err)
}

// send sends signal sig to this node's processes of the job: with batch,
// to the head's main process when it runs one, else to every process
// group its processes started. It returns how many it reached.
func (s *signaler) send(sig int, batch bool) (int, error) {
	if pid := int(s.main.Load()); batch && pid > 0 {
		return 1, syscall.Kill(pid, syscall.Signal(sig))
	}
	var firstErr error
	sent := 0
	for _, g := range jobGroups(s.root) {
		if err := syscall.Kill(-g, syscall.Signal(sig)); err == nil {
			sent++
		} else if !errors.Is(err, syscall.ESRCH) && firstErr == nil {
			firstErr = err
		}
	}
	return sent, firstErr
}

// report logs a delivery on the job's output: what says which ("request
// 3", "60 s before the walltime").
func (s *signaler) report(name, what string, groups int, err error) {
	if err != nil {
		fmt.Fprintf(s.out, "flotilla: signal %s not delivered (%s): %v\n", name, what, err)
		s.log.Warn("signal not delivered", "what", what, "signal", name, "err", err)
		return
	}
	if groups == 0 {
		fmt.Fprintf(s.out, "flotilla: signal %s had no process to reach (%s)\n", name, what)
		return
	}
	fmt.Fprintf(s.out, "flotilla: signal %s delivered (%s)\n", name, what)
	s.log.Info("signal delivered", "what", what, "signal", name, "process_groups", groups)
}

// writeFileAtomic replaces path with b (a temporary file renamed).
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// watchSignals starts delivering cfg's signal requests (when it has a
// requests file) and returns the function that stops it and waits for
// it. main, when not nil, holds the head's command's pid while it runs.
func watchSignals(ctx context.Context, cfg *Config, main *atomic.Int64, log *slog.Logger) (stop func()) {
	if main == nil {
		main = new(atomic.Int64)
	}
	s := newSignaler(cfg, main, log)
	if s == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.watch(ctx, cfg.SignalEvery)
	}()
	return func() {
		cancel()
		<-done
	}
}
