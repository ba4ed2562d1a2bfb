package localnodes

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestArrayIndexList: an array job whose spec is an index list
// (--array=3,1,10-40:10,41-43,100-130:15%3, written out of order) on 4
// local nodes × 8 slots runs exactly the listed indices — each to success
// once, task 41 after one failed attempt — with SLURM_ARRAY_TASK_ID and
// %TASKID% right and COUNT, MIN, MAX and STEP as Slurm sets them, never
// more than 3 at once, and the hub's counts match.
func TestArrayIndexList(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := startArrayEnv(ctx, t, "list", `i=$SLURM_ARRAY_TASK_ID
echo "$i $FLOTILLA_ARRAY_TASK_ATTEMPT" >> $S/attempts
if [ "$i" = 41 ] && [ "$FLOTILLA_ARRAY_TASK_ATTEMPT" = 1 ]; then echo "task 41 fails once" >&2; exit 3; fi
s=$(date +%s%N)
sleep 0.2
echo "$i $1 $SLURM_ARRAY_TASK_COUNT $SLURM_ARRAY_TASK_MIN $SLURM_ARRAY_TASK_MAX $SLURM_ARRAY_TASK_STEP $s $(date +%s%N)" >> $S/out
`)
	j := a.submit(ctx, t, "3,1,10-40:10,41-43,100-130:15%3", 1)
	if j.Array == nil || j.Array.Spec.String() != "1,3,10-40:10,41-43,100-130:15%3" {
		t.Fatalf("stored spec %+v", j.Array)
	}
	listed := []int{1, 3, 10, 20, 30, 40, 41, 42, 43, 100, 115, 130}
	var peak int
	final := a.waitEnd(ctx, t, j.ID, func(cur *structs.Job) {
		if p := arrayProgress(cur); p != nil {
			peak = max(peak, p.Running)
		}
	})
	if final.State != structs.JobCompleted {
		t.Fatalf("job ended %s (%s, exit %d); tail:\n%s", final.State, final.Substatus, final.ExitCode, final.LogTail)
	}
	seen := map[int]int{}
	var intervals []string
	for _, l := range readLines(t, filepath.Join(a.shared, "out")) {
		f := strings.Fields(l)
		if len(f) != 8 {
			t.Fatalf("malformed output line %q", l)
		}
		i, _ := strconv.Atoi(f[0])
		seen[i]++
		if want := f[0] + " " + f[0] + " 12 1 130 10"; strings.Join(f[:6], " ") != want {
			t.Errorf("task %d saw %q, want %q (TASK_ID, %%TASKID%%, COUNT, MIN, MAX, STEP)", i, strings.Join(f[:6], " "), want)
		}
		intervals = append(intervals, f[0]+" "+f[6]+" "+f[7])
	}
	for _, i := range listed {
		if seen[i] != 1 {
			t.Errorf("index %d succeeded %d times, want once", i, seen[i])
		}
		delete(seen, i)
	}
	if len(seen) != 0 {
		t.Errorf("indices outside the list ran: %v", seen)
	}
	attempts := map[string]int{}
	for _, l := range readLines(t, filepath.Join(a.shared, "attempts")) {
		attempts[l]++
	}
	for _, i := range listed {
		for at := 1; at <= 1+btoi(i == 41); at++ {
			k := fmt.Sprintf("%d %d", i, at)
			if attempts[k] != 1 {
				t.Errorf("attempt %q ran %d times, want once", k, attempts[k])
			}
			delete(attempts, k)
		}
	}
	if len(attempts) != 0 {
		t.Errorf("attempts that should not have run: %v", attempts)
	}
	if o := overlapOf(t, intervals); o > 3 {
		t.Errorf("%d tasks ran at once by their own clocks, throttle 3", o)
	}
	p := arrayProgress(final)
	if p == nil || p.Total != 12 || p.Succeeded != 12 || p.Retried != 1 || p.Failed != 0 || p.Pending != 0 || p.Running != 0 ||
		p.Done != "1,3,10,20,30,40-43,100,115,130" || p.PeakRunning > 3 || peak > 3 {
		t.Errorf("hub record: %+v (most running seen %d), want 12 succeeded, 1 retried, at most 3 at once", p, peak)
	}
	if l, err := a.alice.JobTasks(ctx, j.ID, structs.TaskSucceeded, 0); err != nil || len(l.Tasks) != 12 || l.Tasks[11].Index != 130 {
		t.Errorf("task list: %+v, %v", l, err)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// overlapOf is maxOverlap without its count check: the most of the
// "index start end" intervals that overlap.
func overlapOf(t *testing.T, lines []string) int {
	t.Helper()
	type ev struct {
		at    int64
		delta int
	}
	var evs []ev
	for _, l := range lines {
		f := strings.Fields(l)
		s, err1 := strconv.ParseInt(f[1], 10, 64)
		e, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || e < s {
			t.Fatalf("malformed interval %q", l)
		}
		evs = append(evs, ev{s, 1}, ev{e, -1})
	}
	most, cur := 0, 0
	for {
		k := -1
		for i, e := range evs {
			if k < 0 || e.at < evs[k].at || (e.at == evs[k].at && e.delta < evs[k].delta) {
				k = i
			}
		}
		if k < 0 {
			return most
		}
		cur += evs[k].delta
		most = max(most, cur)
		evs = append(evs[:k], evs[k+1:]...)
	}
}
