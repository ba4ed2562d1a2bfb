package localnodes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestArrayWorkerLostAndTasksCanceled: a worker pod's flotilla-init is
// SIGKILLed in the middle of an array (its tasks die with it, its pod
// fails), and ten tasks are canceled through the hub (flotilla cancel JOB
// --tasks). The job goes on: the dead worker's leases expire and its tasks
// are granted again to the others, counted as lost; every task that was
// not canceled succeeds and is recorded exactly once; no attempt runs
// twice; the canceled tasks never run and are counted canceled; the job
// ends with its head (COMPLETED_WITH_ERROR: some tasks were canceled), not
// with the failed worker.
func TestArrayWorkerLostAndTasksCanceled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := startArrayEnv(ctx, t, "lost", `echo "$FLOTILLA_ARRAY_TASK_ID $FLOTILLA_ARRAY_TASK_ATTEMPT" >> $S/attempts
sleep 0.05
echo "$FLOTILLA_ARRAY_TASK_ID $FLOTILLA_ARRAY_TASK_ATTEMPT" >> $S/out
`)
	const total = 3000
	j := a.submit(ctx, t, "1-3000", 0)
	if _, err := a.alice.CancelTasks(ctx, j.ID, "2991-2995,2996,2997-3000"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(a.shared, "out")
	waitFor(ctx, t, "a tenth of the tasks done", func() bool { return len(readLinesQuiet(out)) >= total/10 })
	pid := arrayWorkerPID(t, a.script)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill worker %d: %v", pid, err)
	}
	t.Logf("SIGKILLed the flotilla-init of a worker pod (pid %d) after %d tasks", pid, len(readLinesQuiet(out)))

	final := a.waitEnd(ctx, t, j.ID, nil)
	if final.State != structs.JobCompletedWithError || final.Substatus != "head exited 1" {
		t.Fatalf("job ended %s (%s), want COMPLETED_WITH_ERROR from its head (tasks canceled); tail:\n%s",
			final.State, final.Substatus, final.LogTail)
	}
	p := arrayProgress(final)
	if p == nil {
		t.Fatal("no array progress on the job record")
	}
	t.Logf("final: %d succeeded, %d canceled, %d lost and granted again, %d failed", p.Succeeded, p.Canceled, p.Lost, p.Failed)
	if p.Succeeded != total-10 || p.Canceled != 10 || p.Failed != 0 || p.Done != "1-2990" {
		t.Errorf("hub record %+v: want 2990 succeeded (1-2990), 10 canceled, none failed", *p)
	}
	// A worker holds its slots' tasks and, while tasks are short, twice
	// as many again queued (arraytask's prefetch).
	if held := 3 * arraySlots; p.Lost < 1 || p.Lost > held {
		t.Errorf("%d attempts lost with the killed worker, want 1..%d (the tasks it held)", p.Lost, held)
	}

	// No attempt ran twice; a task ran more than once only as a new
	// attempt after its first was lost with the worker.
	attempts := map[string]int{}
	perTask, latest := map[int]int{}, map[int]int{}
	for _, l := range readLines(t, filepath.Join(a.shared, "attempts")) {
		attempts[l]++
		f := strings.Fields(l)
		i, _ := strconv.Atoi(f[0])
		at, _ := strconv.Atoi(f[1])
		perTask[i]++
		latest[i] = max(latest[i], at)
	}
	for k, n := range attempts {
		if n != 1 {
			t.Errorf("attempt %q ran %d times", k, n)
		}
	}
	again := 0
	for i := 1; i <= total; i++ {
		switch n := perTask[i]; {
		case i > 2990 && n != 0:
			t.Errorf("canceled task %d ran (%d attempts)", i, n)
		case i <= 2990 && n == 0:
			t.Errorf("task %d never ran", i)
		case n > 1:
			again++
		}
	}
	if again > p.Lost {
		t.Errorf("%d tasks ran more than one attempt, but only %d attempts were lost", again, p.Lost)
	}
	// The latest attempt of each task ran to its end (an attempt lost
	// with the worker may have died before its first line).
	last := map[int]int{}
	for _, l := range readLines(t, out) {
		f := strings.Fields(l)
		i, _ := strconv.Atoi(f[0])
		at, _ := strconv.Atoi(f[1])
		last[i] = max(last[i], at)
	}
	for i := 1; i <= 2990; i++ {
		if last[i] != latest[i] {
			t.Errorf("task %d: last finished attempt %d, latest started %d", i, last[i], latest[i])
		}
	}
}

// arrayWorkerPID finds the flotilla-init of a worker pod running script.
func arrayWorkerPID(t *testing.T, script string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range procs {
		b, err := os.ReadFile(c)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) < 3 || !strings.HasSuffix(args[0], "flotilla-init") || !strings.Contains(string(b), script) {
			continue
		}
		for k := range args[:len(args)-1] {
			if args[k] == "--role" && args[k+1] == "worker" {
				pid, _ := strconv.Atoi(strings.Split(c, "/")[2])
				return pid
			}
		}
	}
	t.Fatal(fmt.Sprintf("no worker flotilla-init running %s", script))
	return 0
}
