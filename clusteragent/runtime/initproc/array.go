package initproc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc/arraytask"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// ArrayConfig makes Run run an array job: the head serves the task
// dispatcher on the control port and every pod, the head too, pulls tasks
// and runs the command once per task, Slots at a time. No SSH server runs.
type ArrayConfig struct {
	Spec         structs.ArraySpec
	Slots        int
	Retries      int
	TaskWalltime time.Duration
	// Journal is the dispatcher's journal; empty is RunDir/array-journal
	// (the run directory is an emptyDir: it outlives a container restart).
	Journal string
	JobID   string // SLURM_ARRAY_JOB_ID
	Worker  string // this pod's name among the workers (its host name)
	// ProgressEvery is how often the head prints the progress line.
	ProgressEvery time.Duration
	// CancelFile (head) holds the tasks canceled so far as index ranges
	// (a downward-API file of the head pod's annotation); read every
	// CancelEvery, new indices are canceled. Empty: none.
	CancelFile  string
	CancelEvery time.Duration
	// OutputFile (head) holds the tasks whose output the hub asks for
	// (structs.FormatOutputRequests; a downward-API file of an
	// annotation), read every CancelEvery: each new request is answered
	// with an output line (arraytask.OutputLine) on Stdout. Empty: none.
	OutputFile string
	// LeaseTTL: a worker silent this long loses its tasks to the others
	// (0: DefaultTaskLease). Workers pull at least every tenth of it and
	// kill their tasks after half of it without an answer.
	LeaseTTL time.Duration
	// CPUBind binds each slot's tasks to CPUs of their own (see
	// arraytask.CPUBind; "" is arraytask.DefaultCPUBind).
	CPUBind arraytask.CPUBind
	Now     func() time.Time
}

func (a *ArrayConfig) validate() error {
	switch {
	case a.Slots < 1:
		return fmt.Errorf("%w: array slots %d", ErrUsage, a.Slots)
	case a.Retries < 0 || a.Retries > structs.MaxTaskRetries:
		return fmt.Errorf("%w: task retries %d", ErrUsage, a.Retries)
	case a.Now == nil || a.Worker == "" || a.ProgressEvery <= 0:
		return fmt.Errorf("%w: array config incomplete (clock, worker name, progress interval)", ErrUsage)
	}
	if err := a.Spec.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return nil
}

// DefaultTaskLease is how long an array worker may stay silent before
// its tasks are granted to others.
const DefaultTaskLease = 10 * time.Second

// shutdownGrace bounds how long the head's dispatcher, once its worker
// is done, waits for the answers in flight to be written. Shutdown
// returns as soon as they are, so the bound costs nothing when all is
// well; it only has to outlast the journal's disk sync behind the last
// answer on a loaded node (a cut answer makes that worker report the
// head lost), so it is generous.
const shutdownGrace = 10 * time.Second

// runArray is Run for an array job, after the keys are read.
func runArray(ctx context.Context, cfg *Config, hosts []string, keys *Keys, log *slog.Logger) error {
	a := cfg.Array
	lease := a.LeaseTTL
	if lease <= 0 {
		lease = DefaultTaskLease
	}
	wc := arraytask.WorkerConfig{
		Name: a.Worker, Slots: a.Slots, Token: arraytask.Token(keys.private),
		Command: cfg.Command, Env: os.Environ(), Dir: cfg.Workdir, Spec: a.Spec, JobID: a.JobID,
		TaskWalltime: a.TaskWalltime, Reach: cfg.PeerTimeout, Now: a.Now, Log: log,
		Heartbeat: lease / 10, Fence: lease / 2, OutputDir: cfg.RunDir, CPUBind: a.CPUBind,
	}
	// Signals reach the running tasks (each its own process group).
	stopSignals := watchSignals(ctx, cfg, nil, log)
	defer stopSignals()
	if cfg.Role == RoleWorker {
		wc.URL = "http://" + net.JoinHostPort(hosts[0], strconv.Itoa(cfg.ControlPort))
		log.Info("array worker pulls tasks", "dispatcher", wc.URL, "slots", a.Slots)
		if err := arraytask.RunWorker(ctx, wc); err != nil {
			return fmt.Errorf("%w: %w", ErrHeadLost, err)
		}
		return nil
	}

	d := arraytask.NewDispatcher(a.Spec, a.Retries)
	d.LeaseTTL = lease
	path := a.Journal
	if path == "" {
		path = filepath.Join(cfg.RunDir, "array-journal")
	}
	j, n, err := arraytask.OpenJournal(path, d)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}
	defer j.Close()
	if n > 0 {
		log.Info("array dispatcher resumed from its journal", "records", n)
	}
	ln, err := listen(cfg.BindAddr, cfg.ControlPort)
	if err != nil {
		return err
	}
	srv := arraytask.NewServer(d, j, wc.Token, a.Now, log)
	go srv.Serve(ln)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	ectx, stopExpiry := context.WithCancel(ctx)
	defer stopExpiry()
	go srv.ExpireLeases(ectx, lease/4)
	if a.CancelFile != "" {
		go watchCancels(ectx, srv, a.CancelFile, max(a.CancelEvery, 100*time.Millisecond), log)
	}
	if a.OutputFile != "" {
		go watchOutputRequests(ectx, srv, a.OutputFile, cfg.Stdout, max(a.CancelEvery, 100*time.Millisecond), log)
	}
	log.Info("array dispatcher serves", "tasks", a.Spec.Count(), "array", a.Spec.String(), "retries", a.Retries)

	pctx, stopProgress := context.WithCancel(ctx)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		printProgress(pctx, srv, cfg.Stdout, a.ProgressEvery)
	}()
	wc.Local = srv // the head's own worker pulls in-process
	wc.StayUntilDone = true
	werr := arraytask.RunWorker(ctx, wc)
	stopProgress()
	<-printed
	p, _ := srv.Snapshot()
	writeProgress(cfg.Stdout, p) // the last line: the final counts
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", errSignaled, context.Cause(ctx))
	}
	if werr != nil {
		return fmt.Errorf("%w: %w", ErrSetup, werr)
	}
	log.Info("array done", "succeeded", p.Succeeded, "failed", p.Failed, "canceled", p.Canceled, "retried", p.Retried)
	if p.Failed+p.Canceled > 0 {
		return &CommandError{Code: 1}
	}
	return nil
}

// printProgress prints the progress line every interval when it changed.
func printProgress(ctx context.Context, srv *arraytask.Server, w io.Writer, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var last uint64
	first := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p, v := srv.Snapshot()
		if v == last && !first {
			continue
		}
		first, last = false, v
		writeProgress(w, p)
	}
}

func writeProgress(w io.Writer, p structs.ArrayProgress) {
	b, _ := json.Marshal(p) // plain fields: cannot fail
	fmt.Fprintf(w, "%s%s\n", arraytask.ProgressMarker, b)
}

// watchCancels reads the file of canceled tasks every interval and
// cancels what it lists whenever it changed. The file only grows (the hub
// adds to the list); canceling a task again changes nothing.
func watchCancels(ctx context.Context, srv *arraytask.Server, path string, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	var last string
	for {
		if b, err := os.ReadFile(path); err == nil {
			if cur := strings.TrimSpace(string(b)); cur != last {
				var indices []int
				if err := structs.ParseRanges(cur, func(i int) bool { indices = append(indices, i); return true }); err != nil {
					log.Warn("canceled tasks unreadable", "file", path, "err", err)
				} else if err := srv.Cancel(indices); err != nil {
					log.Error("cancel of tasks not journaled", "err", err)
				} else {
					log.Info("tasks canceled", "tasks", cur)
					last = cur
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// watchOutputRequests reads the file of requested task outputs every
// interval and prints an output line for each request it has not
// answered (a request for a task asked before carries a higher sequence).
func watchOutputRequests(ctx context.Context, srv *arraytask.Server, path string, w io.Writer, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	answered := map[int]uint64{} // task index -> sequence answered
	var last string
	for {
		if b, err := os.ReadFile(path); err == nil && string(b) != last {
			last = string(b)
			reqs, err := structs.ParseOutputRequests(last)
			if err != nil {
				log.Warn("requested task outputs unreadable", "file", path, "err", err)
			}
			for _, r := range reqs {
				if r.Seq <= answered[r.Index] {
					continue
				}
				answered[r.Index] = r.Seq
				o, ok := srv.TaskOutput(r.Index)
				if !ok {
					log.Warn("output requested of a task not in the array", "task", r.Index)
					continue
				}
				o.Seq = r.Seq
				io.WriteString(w, arraytask.OutputLine(o))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
