package localnodes

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// arraySlots is the slots (and cores) of the array tests' machine type;
// arrayNodes the local nodes, one pod of the job on each.
const (
	arraySlots = 8
	arrayNodes = 4
)

// submit submits an array job on every node.
func (a *arrayTest) submit(ctx context.Context, t *testing.T, array string, retries int) *structs.Job {
	t.Helper()
	spec, err := structs.ParseArraySpec(array)
	if err != nil {
		t.Fatal(err)
	}
	j, err := a.alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: a.app, Command: "run",
		MachineType: "l8", Nodes: arrayNodes, Array: &spec, TaskRetries: retries,
		Parameters: map[string]string{"index": "%TASKID%"}})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// waitEnd polls the job until it ends, calling each (if not nil) with
// every state seen.
func (a *arrayTest) waitEnd(ctx context.Context, t *testing.T, id string, each func(*structs.Job)) *structs.Job {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		cur, err := a.alice.GetJob(ctx, id, false)
		if err == nil {
			if each != nil {
				each(cur)
			}
			if cur.State.IsTerminal() {
				return cur
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("array job %s did not end: last %+v, %v", id, cur, err)
		case <-tick.C:
		}
	}
}

// podWatch samples the job's pods: when each ended, and whether a worker
// ended while the head still ran (the allocation shrank).
type podWatch struct {
	mu         sync.Mutex
	endedAt    map[string]time.Time
	shrankSeen bool // a worker pod Succeeded while the head pod Running
	running    map[string]bool
}

func (a *arrayTest) watchPods(ctx context.Context, number uint64) *podWatch {
	w := &podWatch{endedAt: map[string]time.Time{}, running: map[string]bool{}}
	nsName := podgroup.TenantNamespace(podgroup.DefaultNamespacePrefix, "acme")
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			pods, err := a.env.Client.CoreV1().Pods(nsName).List(ctx, metav1.ListOptions{
				LabelSelector: podgroup.LabelJob + "=" + strconv.FormatUint(number, 10)})
			if err == nil {
				w.mu.Lock()
				headRunning, workerDone := false, false
				for _, p := range pods.Items {
					head := p.Labels[podgroup.LabelRank] == "0"
					switch p.Status.Phase {
					case corev1.PodRunning:
						w.running[p.Name] = true
						headRunning = headRunning || head
					case corev1.PodSucceeded, corev1.PodFailed:
						if _, ok := w.endedAt[p.Name]; !ok {
							w.endedAt[p.Name] = time.Now()
						}
						workerDone = workerDone || (!head && p.Status.Phase == corev1.PodSucceeded)
					}
				}
				if headRunning && workerDone {
					w.shrankSeen = true
				}
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}()
	return w
}

// TestArrayJobDrainsAndReleases: 10,000 tasks on 4 local nodes × 8 slots,
// each a real process appending its index to a shared file; 2 % fail on
// their first attempt and succeed on the retry. Every index runs exactly
// once to success, the retries are counted, worker pods end while the head
// still runs (the allocation shrinks as work runs out), the job ends by
// itself, and the hub's record has the counts.
func TestArrayJobDrainsAndReleases(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// Task 9999 runs 3 s: whichever pod holds it, the others have nothing
	// left and leave before the head ends.
	a := startArrayEnv(ctx, t, "drains", `i=$FLOTILLA_ARRAY_TASK_ID
echo "$i $FLOTILLA_ARRAY_TASK_ATTEMPT" >> $S/attempts
if [ $((i % 50)) -eq 0 ] && [ "$FLOTILLA_ARRAY_TASK_ATTEMPT" = 1 ]; then echo "task $i fails once" >&2; exit 3; fi
if [ "$i" = 9999 ]; then sleep 3; fi
echo "$i $SLURM_ARRAY_TASK_ID $1 $SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_COUNT $SLURM_ARRAY_TASK_MIN $SLURM_ARRAY_TASK_MAX" >> $S/out
`)
	start := time.Now()
	j := a.submit(ctx, t, "1-10000", 1)
	var mid atomic.Pointer[structs.ArrayProgress]
	var w *podWatch
	final := a.waitEnd(ctx, t, j.ID, func(cur *structs.Job) {
		if w == nil && cur.Number != 0 {
			w = a.watchPods(ctx, cur.Number)
		}
		if p := arrayProgress(cur); p != nil && p.Succeeded > 0 && p.Succeeded < p.Total && mid.Load() == nil {
			mid.Store(p)
		}
	})
	took := time.Since(start)
	if final.State != structs.JobCompleted {
		t.Fatalf("job ended %s (%s, exit %d); tail:\n%s", final.State, final.Substatus, final.ExitCode, final.LogTail)
	}
	t.Logf("10,000 tasks: submit to end %s", took.Round(time.Millisecond))

	// Every index succeeded exactly once, with its Slurm variables and
	// %TASKID% in the command line.
	lines := readLines(t, filepath.Join(a.shared, "out"))
	seen := map[int]int{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 7 {
			t.Fatalf("malformed output line %q", l)
		}
		i, _ := strconv.Atoi(f[0])
		seen[i]++
		want := []string{f[0], f[0], f[0], strconv.FormatUint(final.Number, 10), "10000", "1", "10000"}
		if strings.Join(f, " ") != strings.Join(want, " ") {
			t.Errorf("task %d saw %q, want %q (TASK_ID, %%TASKID%%, JOB_ID, COUNT, MIN, MAX)", i, l, strings.Join(want, " "))
		}
	}
	for i := 1; i <= 10000; i++ {
		if seen[i] != 1 {
			t.Errorf("index %d succeeded %d times, want exactly once", i, seen[i])
		}
	}
	if len(lines) != 10000 {
		t.Errorf("%d output lines, want 10000", len(lines))
	}
	// Attempts: one each, two for every 50th; no attempt ran twice.
	attempts := map[string]int{}
	for _, l := range readLines(t, filepath.Join(a.shared, "attempts")) {
		attempts[l]++
	}
	for i := 1; i <= 10000; i++ {
		want := []string{fmt.Sprintf("%d 1", i)}
		if i%50 == 0 {
			want = append(want, fmt.Sprintf("%d 2", i))
		}
		for _, k := range want {
			if attempts[k] != 1 {
				t.Errorf("attempt %q ran %d times, want once", k, attempts[k])
			}
			delete(attempts, k)
		}
	}
	if len(attempts) != 0 {
		t.Errorf("attempts that should not have run: %v", attempts)
	}

	// The hub's record has the counts.
	p := arrayProgress(final)
	if p == nil {
		t.Fatalf("the job record has no array progress: %+v", final.Array)
	}
	want := structs.ArrayProgress{Total: 10000, Succeeded: 10000, Retried: 200}
	if p.Total != want.Total || p.Succeeded != want.Succeeded || p.Retried != want.Retried ||
		p.Failed != 0 || p.Pending != 0 || p.Running != 0 || p.Done != "1-10000" {
		t.Errorf("hub record: %+v, want total 10000, succeeded 10000, retried 200, nothing else", *p)
	}
	if p.NodeSeconds <= 0 || p.SlotSeconds < p.NodeSeconds*arraySlots*0.99 {
		t.Errorf("accounting: %.2f node-seconds, %.2f slot-seconds (want node = slot / %d)", p.NodeSeconds, p.SlotSeconds, arraySlots)
	}
	if m := mid.Load(); m == nil {
		t.Error("the hub never showed the array's progress while it ran")
	} else {
		t.Logf("seen mid-run: %d succeeded, %d running, %d pending of %d", m.Succeeded, m.Running, m.Pending, m.Total)
	}
	if strings.Contains(final.LogTail, "FLOTILLA-ARRAY-PROGRESS") {
		t.Errorf("progress lines in the recorded log tail:\n%s", final.LogTail)
	}

	// Released as work ran out: worker pods ended (Succeeded) while the
	// head still ran.
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.shrankSeen {
		t.Errorf("never saw a worker pod Succeeded while the head ran; pods ended at %v", w.endedAt)
	}
	if len(w.running) != arrayNodes {
		t.Errorf("saw %d pods running, want %d", len(w.running), arrayNodes)
	}
}

// TestArrayThrottle: "%16" over 4 nodes × 8 slots never has more than 16
// tasks running: by the dispatcher's count (every progress the hub got,
// and its peak), and independently by the task processes themselves, each
// of which logs when it started and ended (the most that overlap is
// computed from those intervals). A sampler of the task processes on this
// machine shows the check is not blind; its count is only logged, not
// bounded: a task's shell forks for sleep and $(date), and until the child
// execs it has the task's command line too, and a /proc scan is no atomic
// snapshot.
func TestArrayThrottle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := startArrayEnv(ctx, t, "throttle", `s=$(date +%s%N)
sleep 0.05
echo "$FLOTILLA_ARRAY_TASK_ID $s $(date +%s%N)" >> $S/out
`)
	var maxProcs, samples atomic.Int64
	sctx, stop := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		// A sample every 5 ms: back to back, the /proc scans took a core
		// from the tasks they watch.
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for sctx.Err() == nil {
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
			n := int64(countTasks(a.script))
			samples.Add(1)
			for {
				m := maxProcs.Load()
				if n <= m || maxProcs.CompareAndSwap(m, n) {
					break
				}
			}
		}
	}()
	j := a.submit(ctx, t, "1-1000%16", 0)
	var maxReported int
	final := a.waitEnd(ctx, t, j.ID, func(cur *structs.Job) {
		if p := arrayProgress(cur); p != nil {
			maxReported = max(maxReported, p.Running, p.PeakRunning)
		}
	})
	stop()
	<-sampled
	if final.State != structs.JobCompleted {
		t.Fatalf("job ended %s (%s); tail:\n%s", final.State, final.Substatus, final.LogTail)
	}
	p := arrayProgress(final)
	if p == nil || p.Succeeded != 1000 {
		t.Fatalf("final progress %+v", p)
	}
	overlap := maxOverlap(t, readLines(t, filepath.Join(a.shared, "out")))
	t.Logf("dispatcher peak %d, most reported %d; tasks' own intervals overlap at most %d; /proc sampler saw at most %d over %d samples",
		p.PeakRunning, maxReported, overlap, maxProcs.Load(), samples.Load())
	if p.PeakRunning > 16 || maxReported > 16 {
		t.Errorf("the dispatcher ran up to %d (reported %d) tasks at once, throttle 16", p.PeakRunning, maxReported)
	}
	if p.PeakRunning < 16 {
		t.Errorf("the dispatcher never reached the throttle (peak %d): the test does not test it", p.PeakRunning)
	}
	if overlap > 16 {
		t.Errorf("%d tasks ran at once by their own clocks, throttle 16", overlap)
	} else if overlap < 8 {
		t.Errorf("at most %d tasks overlapped: the tasks did not run in parallel, the check is blind", overlap)
	}
	if maxProcs.Load() < 4 {
		t.Errorf("the /proc sampler saw at most %d task processes at once: it is blind", maxProcs.Load())
	}
}

// maxOverlap reads "index start end" lines (nanoseconds) and returns the
// most intervals that overlap; an interval ending when another starts does
// not overlap it.
func maxOverlap(t *testing.T, lines []string) int {
	t.Helper()
	type ev struct {
		at    int64
		delta int
	}
	var evs []ev
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("malformed task line %q", l)
		}
		s, err1 := strconv.ParseInt(f[1], 10, 64)
		e, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || e < s {
			t.Fatalf("malformed task line %q", l)
		}
		evs = append(evs, ev{s, 1}, ev{e, -1})
	}
	if len(lines) != 1000 {
		t.Errorf("%d tasks wrote their interval, want 1000", len(lines))
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return evs[i].delta < evs[j].delta // ends first
	})
	cur, most := 0, 0
	for _, e := range evs {
		cur += e.delta
		most = max(most, cur)
	}
	return most
}

// TestArrayAgentCrash: the agent is SIGKILLed in the middle of an array
// (an index list: 1-999,1001-3001, all but 1000) and started again; the
// tasks go on in the pods meanwhile, no task runs twice, none outside the
// list runs, and the array completes with its counts on the hub.
func TestArrayAgentCrash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := startArrayEnv(ctx, t, "crash", `echo "$FLOTILLA_ARRAY_TASK_ID $FLOTILLA_ARRAY_TASK_ATTEMPT" >> $S/attempts
sleep 0.02
echo "$FLOTILLA_ARRAY_TASK_ID" >> $S/out
`)
	const total = 3000
	j := a.submit(ctx, t, "1-999,1001-3001", 2)
	out := filepath.Join(a.shared, "out")
	waitFor(ctx, t, "a tenth of the tasks done", func() bool { return len(readLinesQuiet(out)) >= total/10 })
	starts := a.agent.Starts
	a.agent.Kill()
	killedAt := len(readLinesQuiet(out))
	waitFor(ctx, t, "tasks going on without the agent", func() bool { return len(readLinesQuiet(out)) >= killedAt+total/10 })
	if err := a.agent.Start(); err != nil {
		t.Fatal(err)
	}
	final := a.waitEnd(ctx, t, j.ID, nil)
	if final.State != structs.JobCompleted {
		t.Fatalf("job ended %s (%s); tail:\n%s", final.State, final.Substatus, final.LogTail)
	}
	seen := map[string]int{}
	for _, l := range readLines(t, filepath.Join(a.shared, "attempts")) {
		seen[l]++
	}
	for _, i := range j.Array.Spec.All() {
		if k := fmt.Sprintf("%d 1", i); seen[k] != 1 {
			t.Errorf("task %d's first attempt ran %d times", i, seen[k])
		}
	}
	if seen["1000 1"] != 0 {
		t.Error("task 1000, not in the list, ran")
	}
	if len(seen) != total {
		t.Errorf("%d distinct attempts ran, want %d (one per task, no retry)", len(seen), total)
	}
	if n := len(readLines(t, out)); n != total {
		t.Errorf("%d tasks wrote their index, want %d", n, total)
	}
	p := arrayProgress(final)
	if p == nil || p.Succeeded != total || p.Retried != 0 || p.Failed != 0 || p.Done != "1-999,1001-3001" {
		t.Errorf("hub record after the agent's restart: %+v", p)
	}
	if a.agent.Starts != starts+1 {
		t.Errorf("agent started %d times during the test, want once again", a.agent.Starts-starts)
	}
}

func arrayProgress(j *structs.Job) *structs.ArrayProgress {
	if j == nil || j.Array == nil {
		return nil
	}
	return j.Array.Progress
}

// countTasks counts the processes running the task script (the shell it
// runs in: argv[1] is the script).
func countTasks(script string) int {
	n := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range procs {
		b, err := os.ReadFile(c)
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && args[1] == script {
			n++
		}
	}
	return n
}

func writeExec(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func readLinesQuiet(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
