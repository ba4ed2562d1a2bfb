package arraytask

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// runLocal runs one in-process worker of slots slots (the head's: it
// pulls from srv without HTTP) until every task is final.
func runLocal(t *testing.T, srv *Server, spec structs.ArraySpec, slots int, cmd []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := RunWorker(ctx, WorkerConfig{Name: "head", Slots: slots, Local: srv, Command: cmd, Env: os.Environ(), Spec: spec,
		JobID: "7", StayUntilDone: true, Reach: 10 * time.Second, Now: time.Now, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Done():
	default:
		t.Fatal("the worker returned before every task was final")
	}
}

// TestTaskExecFailureReported: a task whose command cannot be executed
// (missing, not executable, not a program the kernel can run) fails with
// exit status 127 and a tail that says why, every attempt (retries used
// up, nothing silent), whichever path names it (resolved once, or per task
// through %TASKID%).
func TestTaskExecFailureReported(t *testing.T) {
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(noexec, []byte("#!/bin/sh\ntrue\n"), 0o644)
	os.WriteFile(garbage, []byte("\x00\x01not a program"), 0o755)
	for name, tc := range map[string]struct {
		cmd  []string
		want string
	}{
		"missing":          {[]string{filepath.Join(dir, "missing")}, "no such file"},
		"not executable":   {[]string{noexec}, "permission denied"},
		"exec format":      {[]string{garbage}, "exec format error"},
		"missing per task": {[]string{filepath.Join(dir, "t%TASKID%")}, "no such file"},
	} {
		t.Run(name, func(t *testing.T) {
			spec, _ := structs.ParseArraySpec("1-3")
			srv := NewServer(NewDispatcher(spec, 1), nil, "", time.Now, slog.New(slog.DiscardHandler))
			defer srv.Close()
			runLocal(t, srv, spec, 2, tc.cmd)
			p, _ := srv.Snapshot()
			if p.Failed != 3 || p.Succeeded != 0 || p.Retried != 3 {
				t.Errorf("progress %+v: want 3 failed after a retry each", p)
			}
			for i := 1; i <= 3; i++ {
				o, _ := srv.Output(i)
				if o.State != structs.TaskFailed || o.ExitCode != 127 || o.Attempts != 2 ||
					!strings.Contains(o.Tail, "flotilla: cannot start") || !strings.Contains(strings.ToLower(o.Tail), tc.want) {
					t.Errorf("task %d: %+v, want failed with 127 after 2 attempts, tail naming %q", i, o, tc.want)
				}
			}
		})
	}
}

// TestSlotOutputPerTask: one slot runs every task; a task that writes
// nothing after one that wrote has an empty tail (the slot's file is
// truncated when the last task wrote to it), the others their own output,
// and each task sees its own index in its environment.
func TestSlotOutputPerTask(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "task.sh")
	os.WriteFile(script, []byte(`#!/bin/sh
[ "$FLOTILLA_ARRAY_TASK_ID" = "$1" ] && [ "$SLURM_ARRAY_TASK_ID" = "$1" ] || { echo "env $FLOTILLA_ARRAY_TASK_ID $SLURM_ARRAY_TASK_ID for $1"; exit 9; }
[ $(($1 % 3)) = 0 ] || echo "out $1 $FLOTILLA_ARRAY_TASK_ATTEMPT $SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_COUNT"
`), 0o755)
	spec, _ := structs.ParseArraySpec("1-12")
	srv := NewServer(NewDispatcher(spec, 0), nil, "", time.Now, slog.New(slog.DiscardHandler))
	defer srv.Close()
	runLocal(t, srv, spec, 1, []string{script, TaskIDParam})
	got := map[int]string{}
	for i := 1; i <= 12; i++ {
		o, _ := srv.Output(i)
		if o.State != structs.TaskSucceeded {
			t.Errorf("task %d: %+v", i, o)
		}
		got[i] = o.Tail
	}
	want := map[int]string{}
	for i := 1; i <= 12; i++ {
		if i%3 != 0 {
			want[i] = "out " + strconv.Itoa(i) + " 1 7 12\n"
		} else {
			want[i] = ""
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("tails (-want +got):\n%s", d)
	}
}

// TestBatchWait: results wait for a batch only while enough tasks are
// queued to keep the slots busy during the pull.
func TestBatchWait(t *testing.T) {
	for name, tc := range map[string]struct {
		results, queued, slots int
		want                   bool
	}{
		"one result, queue full":     {1, 16, 8, true},
		"a batch":                    {8, 16, 8, false},
		"queue low":                  {1, 2, 8, false},
		"queue just above low water": {1, 3, 8, true},
		"one slot: never waits":      {1, 0, 1, false},
		"nothing queued":             {0, 0, 8, false},
	} {
		if got := batchWait(tc.results, tc.queued, tc.slots); got != tc.want {
			t.Errorf("%s: batchWait(%d, %d, %d) = %v, want %v", name, tc.results, tc.queued, tc.slots, got, tc.want)
		}
	}
}

// TestHeadShutdownAnswersLastPull: the head's worker (in-process) returns
// as soon as the last task is final, and the head shuts its dispatcher
// down; the other worker, whose pull reported that last result, still
// gets its answer and leaves at once instead of asking a dispatcher that
// is gone until its reach runs out. Several rounds: the last pull's
// journal sync races with the head's end.
func TestHeadShutdownAnswersLastPull(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	for round := range 5 {
		spec, _ := structs.ParseArraySpec("1-4")
		d := NewDispatcher(spec, 0)
		j, _, err := OpenJournal(filepath.Join(dir, "journal"+strconv.Itoa(round)), d)
		if err != nil {
			t.Fatal(err)
		}
		srv := NewServer(d, j, "t", time.Now, log)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		remote := make(chan error, 1)
		go func() {
			// Slower tasks than the head's: its result ends the array.
			remote <- RunWorker(ctx, WorkerConfig{Name: "w1", Slots: 2, URL: "http://" + ln.Addr().String(), Token: "t",
				Command: []string{"/bin/sh", "-c", "sleep 0.2"}, Spec: spec, Reach: 3 * time.Second, Now: time.Now, Log: log})
		}()
		// The head's worker starts once the other holds tasks: a head
		// alone ran the whole array before the other's first pull (under
		// load), which then found no dispatcher, as it should.
		tick := time.NewTicker(5 * time.Millisecond)
		for p, _ := srv.Snapshot(); p.Running == 0; p, _ = srv.Snapshot() {
			select {
			case <-ctx.Done():
				t.Fatalf("round %d: the other worker took no task: %v", round, ctx.Err())
			case <-tick.C:
			}
		}
		tick.Stop()
		err = RunWorker(ctx, WorkerConfig{Name: "head", Slots: 1, Local: srv, Command: []string{"/bin/true"}, Spec: spec,
			StayUntilDone: true, Reach: 3 * time.Second, Now: time.Now, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
		srv.Shutdown(sctx)
		scancel()
		start := time.Now()
		if err := <-remote; err != nil {
			t.Errorf("round %d: the other worker: %v after %v (its last pull went unanswered)", round, err, time.Since(start))
		}
		cancel()
		j.Close()
	}
}
