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
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TaskIDParam is replaced by the task's index in every argument of the
// command (AppDef parameter values carry it into the command line).
const TaskIDParam = "%TASKID%"

// WorkerConfig is what a worker needs.
type WorkerConfig struct {
	Name  string // unique among the job's workers (the pod's host name)
	Slots int    // tasks run at once
	URL   string // the dispatcher, e.g. http://head:2223
	Token string
	// Local is the dispatcher when it runs in this process (the head's
	// own worker): pulls call it directly, without HTTP or JSON; URL and
	// Token are not used then.
	Local   *Server
	Command []string
	Env     []string // the environment every task starts from
	Dir     string   // the directory every task starts in ("" this process's)
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
	// Prefetch is how many tasks beyond its slots a worker holds while
	// tasks are short (0: twice its slots; negative: none; none either in
	// a throttled array). While it holds queued tasks, results wait for a
	// batch (see batchWait).
	Prefetch int
	// OutputDir holds one output file per slot (the pod's run directory;
	// empty: a temporary directory removed at the end).
	OutputDir string
	// CPUBind binds each slot's tasks to CPUs of their own (cpubind.go;
	// "" is DefaultCPUBind). CPUs are the CPUs to spread over the slots
	// (nil: those this process may run on, AllowedCPUs).
	CPUBind CPUBind
	CPUs    []int
	Now     func() time.Time
	Log     *slog.Logger
}

// TaskEnv is the environment a task gets besides the worker's. For an
// index list, SLURM_ARRAY_TASK_STEP is what Slurm sets: the step of the
// first range written with one, else 1 (structs.ArraySpec.SlurmStep).
func TaskEnv(spec structs.ArraySpec, jobID string, index, attempt int) []string {
	i := strconv.Itoa(index)
	return []string{
		"FLOTILLA_ARRAY_TASK_ID=" + i,
		"FLOTILLA_ARRAY_TASK_ATTEMPT=" + strconv.Itoa(attempt),
		"SLURM_ARRAY_TASK_ID=" + i,
		"SLURM_ARRAY_JOB_ID=" + jobID,
		"SLURM_ARRAY_TASK_COUNT=" + strconv.Itoa(spec.Count()),
		"SLURM_ARRAY_TASK_MIN=" + strconv.Itoa(spec.Min()),
		"SLURM_ARRAY_TASK_MAX=" + strconv.Itoa(spec.Max()),
		"SLURM_ARRAY_TASK_STEP=" + strconv.Itoa(spec.SlurmStep()),
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

// RunWorker pulls and runs tasks until the dispatcher says there is
// nothing left for it (and, with StayUntilDone, every task is final). It
// returns nil then; an unreachable dispatcher is an error.
//
// One pull is in flight at a time and the tasks never wait for it: a pull
// carries every result since the last one, the tasks held and how many
// more the worker takes (its free slots, plus a prefetch while tasks are
// short, so a slot starts its next task the moment one ends); results
// that end while a pull is out go with the next. A worker holding nothing
// asks the dispatcher to hold its pull until there is work (long poll).
func RunWorker(ctx context.Context, cfg WorkerConfig) error {
	send := cfg.Local.Pull
	if cfg.Local == nil {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true}}
		defer client.CloseIdleConnections()
		send = func(ctx context.Context, p Pull) (Grant, error) { return pull(ctx, client, cfg, p) }
	}
	procs := &procTable{m: map[Lease]*proc{}}
	ln, err := newLauncher(cfg, procs)
	if err != nil {
		return err
	}
	defer ln.close()
	dir := cfg.OutputDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "flotilla-array-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	prefetch := cfg.Prefetch
	if prefetch == 0 {
		prefetch = 2 * cfg.Slots
	}
	if prefetch < 0 || cfg.Spec.MaxRunning > 0 {
		// A throttled array counts held tasks as running: a task queued
		// here would keep another worker's slot idle.
		prefetch = 0
	}
	queue := make(chan Lease, cfg.Slots+prefetch+1)
	results := make(chan Result, cfg.Slots+prefetch+1)
	var slots sync.WaitGroup
	defer func() {
		close(queue)
		for _, l := range procs.leases() {
			procs.kill(l, false)
		}
		slots.Wait()
	}()
	bind := slotBinding(cfg)
	for i := range cfg.Slots {
		out, err := slotOutput(dir, i)
		if err != nil {
			return err
		}
		var cpus []int
		if bind != nil {
			cpus = bind[i]
		}
		slots.Go(func() { ln.run(i, cpus, out, queue, results) })
	}

	var (
		done     []Result
		drained  bool
		allDone  bool
		starved  bool // the last answer granted nothing: ask again on a change only
		lastOK   = cfg.Now()
		inflight bool
		answers  = make(chan pullAnswer, 1)
		avg      float64   // seconds per task, moving average (0: none ended yet)
		since    time.Time // when the oldest result in done ended
		waiting  bool      // results wait for a batch
		tick     = time.NewTimer(time.Hour)
	)
	defer tick.Stop()
	pctx, stopPulls := context.WithCancel(ctx)
	defer stopPulls()
	take := func(r Result) {
		if procs.remove(r.Lease) {
			r.Exit, r.Expired = ExitLost, true
		}
		if avg == 0 {
			avg = r.Seconds
		} else {
			avg = 0.9*avg + 0.1*r.Seconds
		}
		if len(done) == 0 {
			since = cfg.Now()
		}
		done = append(done, r)
		starved = false
	}
	for {
		for more := true; more; {
			select {
			case r := <-results:
				take(r)
			default:
				more = false
			}
		}
		held := procs.len()
		leaving := drained && !cfg.StayUntilDone
		if !inflight && len(done) == 0 && held == 0 && (leaving || allDone) {
			if leaving {
				cfg.Log.Info("nothing left to run: worker leaves")
			}
			return nil
		}
		if !inflight {
			short := avg > 0 && avg < shortTask.Seconds()
			want := 0
			if !leaving {
				extra := 0
				if short {
					extra = prefetch
				}
				want = max(cfg.Slots+extra-held, 0)
			}
			heartbeat := held > 0 && cfg.Heartbeat > 0 && cfg.Now().Sub(lastOK) >= cfg.Heartbeat
			waiting = short && !drained && len(done) > 0 && batchWait(len(done), procs.queued(), cfg.Slots) &&
				cfg.Now().Sub(since) < batchDelay
			wait := waiting
			if heartbeat || (!wait && (len(done) > 0 || (want > 0 && !(starved && held > 0)))) {
				p := Pull{Worker: cfg.Name, Slots: cfg.Slots, Free: want, Done: done, Holding: procs.leases(), Stay: cfg.StayUntilDone}
				if held == 0 && len(done) == 0 {
					p.WaitMillis = int(longPoll.Milliseconds())
				}
				done = nil
				inflight = true
				go func() {
					g, err := send(pctx, p)
					answers <- pullAnswer{g, err}
				}()
			}
		}
		// Wake for the heartbeat (nothing in flight) or the fence (a pull
		// out too long).
		wake := time.Hour
		if held > 0 && !inflight && cfg.Heartbeat > 0 {
			wake = max(cfg.Heartbeat-cfg.Now().Sub(lastOK), time.Millisecond)
		}
		if held > 0 && inflight && cfg.Fence > 0 {
			wake = max(cfg.Fence-cfg.Now().Sub(lastOK), 10*time.Millisecond)
		}
		if waiting && !inflight {
			wake = min(wake, max(batchDelay-cfg.Now().Sub(since), time.Millisecond))
		}
		tick.Reset(wake)
		select {
		case r := <-results:
			take(r)
		case a := <-answers:
			inflight = false
			if a.err != nil {
				return a.err
			}
			lastOK = cfg.Now()
			g := a.g
			for _, l := range g.Kill {
				procs.kill(l, false)
			}
			for _, l := range g.Tasks {
				procs.add(l)
				queue <- l
			}
			drained, allDone = g.Drained, g.AllDone
			starved = len(g.Tasks) == 0
		case <-tick.C:
			if inflight && cfg.Fence > 0 && cfg.Now().Sub(lastOK) > cfg.Fence {
				for _, l := range procs.leases() {
					if procs.kill(l, true) {
						cfg.Log.Warn("dispatcher unreachable past the fence: task killed", "index", l.Index, "attempt", l.Attempt)
					}
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// batchWait says whether a worker holding queued short tasks lets its
// results wait for more: each pull is a round trip, a journal sync and a
// wake-up of both processes, so one pull should carry several results.
// They go once they fill a batch (as many as the slots) or the tasks
// queued here run low (a quarter of the slots: those keep the slots busy
// while the pull is out). Pure.
func batchWait(results, queued, slots int) bool {
	return results < slots && queued > slots/4
}

// batchDelay bounds how long a result waits for its batch (the array's
// progress and a task's output stay this fresh).
const batchDelay = 100 * time.Millisecond

type pullAnswer struct {
	g   Grant
	err error
}

// shortTask: while tasks take less on average, a worker holds a few more
// than its slots (Prefetch), so no slot waits for a round trip. Longer
// tasks are not held ahead: another worker may be free to run them.
const shortTask = time.Second

// longPoll is how long the dispatcher may hold the pull of a worker that
// holds nothing, until there is something for it.
const longPoll = time.Second

// pull sends one pull, trying again until cfg.Reach passes; once
// cfg.Fence has passed since lastOK, the last answered pull, it calls
// fence (which kills the tasks held).
func pull(ctx context.Context, client *http.Client, cfg WorkerConfig, p Pull) (Grant, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return Grant{}, err
	}
	deadline := cfg.Now().Add(cfg.Reach)
	delay := 50 * time.Millisecond
	for {
		// A bound on each attempt: a dispatcher cut off without a reset
		// must not hold the worker's only pull forever.
		actx, cancel := context.WithTimeout(ctx, time.Duration(p.WaitMillis)*time.Millisecond+attemptTimeout)
		g, err := pullOnce(actx, client, cfg, body)
		cancel()
		if err == nil {
			return g, nil
		}
		if ctx.Err() != nil {
			return Grant{}, ctx.Err()
		}
		if cfg.Now().After(deadline) {
			return Grant{}, fmt.Errorf("%w: %w", ErrDispatcherLost, err)
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

// attemptTimeout bounds one pull request (beyond its long poll).
const attemptTimeout = 5 * time.Second

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
