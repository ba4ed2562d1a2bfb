package arraytask

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TaskIDParam is replaced by the task's index in every argument of the
// command (AppDef parameter values carry it into the command line).
const TaskIDParam = "%TASKID%"

// WorkerConfig is what a worker needs.
type WorkerConfig struct {
	Name    string // unique among the job's workers (the pod's host name)
	Slots   int    // tasks run at once
	URL     string // the dispatcher, e.g. http://head:2223
	Token   string
	Command []string
	Env     []string // the environment every task starts from
	Spec    structs.ArraySpec
	JobID   string // SLURM_ARRAY_JOB_ID
	// TaskWalltime kills an attempt that runs longer (0: no bound).
	TaskWalltime time.Duration
	// StayUntilDone keeps the worker (the head's) pulling until every
	// task is final, so retries of tasks that failed elsewhere still run
	// after the other workers left.
	StayUntilDone bool
	// Reach bounds how long the dispatcher may be unreachable.
	Reach time.Duration
	// Heartbeat: a worker holding tasks pulls at least this often, which
	// renews its leases (0: only when a task ends). Fence: a worker that
	// could not pull for this long kills its tasks, whose leases are about
	// to expire (0: never). Fence must be below the dispatcher's LeaseTTL.
	Heartbeat, Fence time.Duration
	Now              func() time.Time
	Log              *slog.Logger
}

// TaskEnv is the environment a task gets besides the worker's.
func TaskEnv(spec structs.ArraySpec, jobID string, index, attempt int) []string {
	i := strconv.Itoa(index)
	return []string{
		"FLOTILLA_ARRAY_TASK_ID=" + i,
		"FLOTILLA_ARRAY_TASK_ATTEMPT=" + strconv.Itoa(attempt),
		"SLURM_ARRAY_TASK_ID=" + i,
		"SLURM_ARRAY_JOB_ID=" + jobID,
		"SLURM_ARRAY_TASK_COUNT=" + strconv.Itoa(spec.Count()),
		"SLURM_ARRAY_TASK_MIN=" + strconv.Itoa(spec.Start),
		"SLURM_ARRAY_TASK_MAX=" + strconv.Itoa(spec.Max()),
		"SLURM_ARRAY_TASK_STEP=" + strconv.Itoa(max(spec.Step, 1)),
	}
}

// TaskArgv is the command with TaskIDParam replaced in every argument.
func TaskArgv(cmd []string, index int) []string {
	out := make([]string, len(cmd))
	id := strconv.Itoa(index)
	for i, a := range cmd {
		out[i] = strings.ReplaceAll(a, TaskIDParam, id)
	}
	return out
}

type running struct {
	cancel context.CancelFunc
	killed bool
	fenced bool // killed by the fence: reported as lost, not failed
}

// RunWorker pulls and runs tasks until the dispatcher says there is
// nothing left for it (and, with StayUntilDone, every task is final). It
// returns nil then; an unreachable dispatcher is an error.
func RunWorker(ctx context.Context, cfg WorkerConfig) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true}}
	defer client.CloseIdleConnections()
	results := make(chan Result, cfg.Slots*2+1)
	var wg sync.WaitGroup
	defer wg.Wait()
	tctx, stopAll := context.WithCancel(ctx)
	defer stopAll()

	holding := map[Lease]*running{}
	var done []Result
	drained := false
	lastOK := cfg.Now()
	fence := func() {
		for l, r := range holding {
			if !r.killed {
				cfg.Log.Warn("dispatcher unreachable past the fence: task killed", "index", l.Index, "attempt", l.Attempt)
				r.killed, r.fenced = true, true
				r.cancel()
			}
		}
	}
	take := func(r Result) {
		if h := holding[r.Lease]; h != nil && h.fenced {
			r.Exit, r.Expired = ExitLost, true
		}
		delete(holding, r.Lease)
		done = append(done, r)
	}
	for {
		// Take what ended, without waiting.
		for more := true; more; {
			select {
			case r := <-results:
				take(r)
			default:
				more = false
			}
		}
		free := cfg.Slots - len(holding)
		if drained && !cfg.StayUntilDone {
			free = 0
		}
		if drained && !cfg.StayUntilDone && len(holding) == 0 && len(done) == 0 {
			cfg.Log.Info("nothing left to run: worker leaves")
			return nil
		}
		p := Pull{Worker: cfg.Name, Slots: cfg.Slots, Free: free, Done: done}
		for l := range holding {
			p.Holding = append(p.Holding, l)
		}
		g, err := pull(ctx, client, cfg, p, lastOK, fence)
		if err != nil {
			return err
		}
		lastOK = cfg.Now()
		done = nil
		for _, l := range g.Kill {
			if r := holding[l]; r != nil {
				r.killed = true
				r.cancel()
			}
		}
		for _, l := range g.Tasks {
			rctx, cancel := context.WithCancel(tctx)
			holding[l] = &running{cancel: cancel}
			wg.Go(func() {
				defer cancel()
				results <- runTask(rctx, cfg, l)
			})
		}
		if g.AllDone && len(holding) == 0 {
			return nil
		}
		drained = g.Drained
		// Wait for a slot to free; poll again soon when holding nothing
		// (throttled, or a drained worker that stays for retries).
		if len(g.Tasks) == 0 || len(holding) >= cfg.Slots || drained {
			var wait <-chan time.Time
			var t *time.Timer
			switch {
			case len(holding) == 0 || (drained && cfg.StayUntilDone):
				t = time.NewTimer(pollEvery)
				wait = t.C
			case cfg.Heartbeat > 0:
				t = time.NewTimer(cfg.Heartbeat)
				wait = t.C
			}
			select {
			case r := <-results:
				take(r)
			case <-wait:
			case <-ctx.Done():
				return ctx.Err()
			}
			if t != nil {
				t.Stop()
			}
		}
	}
}

// pollEvery is how often a worker that holds nothing asks again.
const pollEvery = 50 * time.Millisecond

// pull sends one pull, trying again until cfg.Reach passes; once
// cfg.Fence has passed since lastOK, the last answered pull, it calls
// fence (which kills the tasks held).
func pull(ctx context.Context, client *http.Client, cfg WorkerConfig, p Pull, lastOK time.Time, fence func()) (Grant, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return Grant{}, err
	}
	deadline := cfg.Now().Add(cfg.Reach)
	delay := 50 * time.Millisecond
	for {
		g, err := pullOnce(ctx, client, cfg, body)
		if err == nil {
			return g, nil
		}
		if ctx.Err() != nil {
			return Grant{}, ctx.Err()
		}
		if cfg.Now().After(deadline) {
			return Grant{}, fmt.Errorf("%w: %w", ErrDispatcherLost, err)
		}
		if cfg.Fence > 0 && cfg.Now().Sub(lastOK) > cfg.Fence {
			fence()
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return Grant{}, ctx.Err()
		case <-t.C:
		}
		delay = min(delay*2, time.Second)
	}
}

// ErrDispatcherLost: the head's dispatcher could not be reached in time.
var ErrDispatcherLost = errors.New("array dispatcher unreachable")

func pullOnce(ctx context.Context, client *http.Client, cfg WorkerConfig, body []byte) (Grant, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL+PathPull, bytes.NewReader(body))
	if err != nil {
		return Grant{}, err
	}
	req.Header.Set("Authorization", "Bearer "+cfg.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return Grant{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return Grant{}, fmt.Errorf("dispatcher: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	var g Grant
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil {
		return Grant{}, fmt.Errorf("dispatcher answer: %w", err)
	}
	return g, nil
}

// tailBytes bounds the output kept of an attempt.
const tailBytes = 512

// tailBuffer keeps the last tailBytes written.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailBytes {
		t.b = slices.Clone(t.b[len(t.b)-tailBytes:])
	}
	return len(p), nil
}

// runTask runs one attempt in its own process group and returns its end.
func runTask(ctx context.Context, cfg WorkerConfig, l Lease) Result {
	if cfg.TaskWalltime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.TaskWalltime)
		defer cancel()
	}
	argv := TaskArgv(cfg.Command, l.Index)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(slices.Clip(cfg.Env), TaskEnv(cfg.Spec, cfg.JobID, l.Index, l.Attempt)...)
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	start := cfg.Now()
	err := cmd.Run()
	r := Result{Lease: l, Seconds: cfg.Now().Sub(start).Seconds()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		r.Exit = ExitWalltime
		out.Write([]byte("\n[flotilla: task walltime exceeded]"))
	case errors.As(err, &ee):
		r.Exit = ee.ExitCode()
		if r.Exit < 0 { // killed by a signal
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				r.Exit = 128 + int(ws.Signal())
			}
		}
	default:
		r.Exit = 127
		out.Write([]byte(err.Error()))
	}
	if r.Exit != 0 {
		r.Tail = string(bytes.ToValidUTF8(out.b, []byte("?")))
	}
	return r
}
