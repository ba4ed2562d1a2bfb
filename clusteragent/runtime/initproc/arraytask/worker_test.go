package arraytask

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestServerAndWorkers runs a dispatcher and three workers with real
// task processes (two on loopback, one in-process as the head's is): every index runs to success once, a task that
// fails once is retried, one that outruns its walltime is killed and fails
// for good, the throttle holds, %TASKID% and the Slurm variables reach the
// task, and the workers leave once drained.
func TestServerAndWorkers(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "task.sh")
	// Task 7 fails on its first attempt; task 13 sleeps past its walltime.
	body := `#!/bin/sh
echo "$FLOTILLA_ARRAY_TASK_ID $FLOTILLA_ARRAY_TASK_ATTEMPT $1 $SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_COUNT" >> ` + dir + `/attempts
if [ "$1" = 7 ] && [ "$FLOTILLA_ARRAY_TASK_ATTEMPT" = 1 ]; then echo "seven fails" >&2; exit 3; fi
if [ "$1" = 13 ]; then exec sleep 30; fi
echo "out $1"
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	spec, _ := structs.ParseArraySpec("1-40%5")
	d := NewDispatcher(spec, 1)
	j, _, err := OpenJournal(filepath.Join(dir, "journal"), d)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	log := slog.New(slog.DiscardHandler)
	srv := NewServer(d, j, Token([]byte("secret")), time.Now, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wc := WorkerConfig{Name: "w" + string(rune('0'+i)), Slots: 4, URL: "http://" + ln.Addr().String(),
			Token: Token([]byte("secret")), Command: []string{script, TaskIDParam}, Env: os.Environ(), Spec: spec,
			JobID: "42", TaskWalltime: 2 * time.Second, StayUntilDone: i == 0, Reach: 10 * time.Second, Now: time.Now, Log: log}
		if i == 0 {
			wc.URL, wc.Token, wc.Local = "", "", srv // the head's worker: in-process
		}
		wg.Go(func() { errs[i] = RunWorker(ctx, wc) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
	select {
	case <-srv.Done():
	default:
		t.Fatal("workers returned before every task was final")
	}
	p, _ := srv.Snapshot()
	if p.Succeeded != 39 || p.Failed != 1 || p.Retried != 2 || p.PeakRunning > 5 || p.PeakRunning < 2 {
		t.Errorf("progress %+v: want 39 succeeded, 13 failed (walltime, retried once), 7 retried once, peak <= 5", p)
	}
	if len(p.Failures) != 1 || p.Failures[0].Index != 13 || p.Failures[0].ExitCode != ExitWalltime || p.Failures[0].Attempts != 2 ||
		!strings.Contains(p.Failures[0].Tail, "walltime") {
		t.Errorf("failures %+v", p.Failures)
	}
	// Any task's last output, asked of the dispatcher, successes too.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ln.Addr().String()+PathOutput+"?task=5", nil)
	req.Header.Set("Authorization", "Bearer "+Token([]byte("secret")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out structs.TaskResult
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if out.State != structs.TaskSucceeded || out.Tail != "out 5\n" || out.Attempts != 1 {
		t.Errorf("task 5's output: %+v, want succeeded with %q", out, "out 5\n")
	}
	b, err := os.ReadFile(filepath.Join(dir, "attempts"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(lines)
	seen := map[string]int{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 5 || f[0] != f[2] || f[3] != "42" || f[4] != "40" {
			t.Errorf("task saw %q (want index, attempt, %%TASKID%%, job 42, count 40)", l)
		}
		seen[f[0]+" "+f[1]]++
	}
	if len(lines) != 42 { // 40 first attempts, a retry of 7 and of 13
		t.Errorf("%d attempts ran, want 42:\n%s", len(lines), b)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("attempt %s ran %d times", k, n)
		}
	}

	// A dispatcher restarted on the journal knows it all.
	d2 := NewDispatcher(spec, 1)
	j2, n, err := OpenJournal(filepath.Join(dir, "journal"), d2)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if p2 := d2.Progress(); n == 0 || p2.Succeeded != 39 || p2.Failed != 1 || !d2.Done() {
		t.Errorf("replayed %d records: %+v", n, p2)
	}
}

// TestServerRefusesWithoutToken: the dispatcher answers only the job's
// bearer token.
func TestServerRefusesWithoutToken(t *testing.T) {
	spec, _ := structs.ParseArraySpec("1-3")
	srv := NewServer(NewDispatcher(spec, 0), nil, Token([]byte("secret")), time.Now, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = RunWorker(ctx, WorkerConfig{Name: "w", Slots: 1, URL: "http://" + ln.Addr().String(), Token: Token([]byte("other")),
		Command: []string{"/bin/true"}, Spec: spec, Reach: 300 * time.Millisecond, Now: time.Now, Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("worker with the wrong token: %v, want a 401", err)
	}
	if p, _ := srv.Snapshot(); p.Running != 0 || p.Pending != 3 {
		t.Errorf("a refused worker changed the state: %+v", p)
	}
}

// TestWorkerFencesItself: a worker that cannot reach its dispatcher for
// longer than Fence kills its tasks (their leases are about to expire and
// be granted elsewhere) while it still tries to reach the dispatcher.
func TestWorkerFencesItself(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	script := filepath.Join(dir, "task.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho $$ > "+pidFile+".tmp && mv "+pidFile+".tmp "+pidFile+"\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec, _ := structs.ParseArraySpec("1")
	log := slog.New(slog.DiscardHandler)
	srv := NewServer(NewDispatcher(spec, 0), nil, "t", time.Now, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	returned := make(chan error, 1)
	go func() {
		returned <- RunWorker(ctx, WorkerConfig{Name: "w", Slots: 1, URL: "http://" + ln.Addr().String(), Token: "t",
			Command: []string{script}, Spec: spec, Reach: 20 * time.Second, Heartbeat: 100 * time.Millisecond,
			Fence: 500 * time.Millisecond, Now: time.Now, Log: log})
	}()
	var pid int
	for pid == 0 {
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		select {
		case <-ctx.Done():
			t.Fatal("the task never started")
		case <-time.After(20 * time.Millisecond):
		}
	}
	srv.Close() // the dispatcher is gone
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("task %d still runs 10 s after the dispatcher went away (fence 500 ms)", pid)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	select {
	case err := <-returned:
		t.Fatalf("the worker gave up (%v) before the fence: it did not fence, it left", err)
	default:
	}
	cancel()
	<-returned
}

// TestLongPoll: the pull of a worker that holds nothing is held until
// there is something for it (here: throttle room once another worker's
// task ends), not answered empty and asked again in a loop, and a change
// wakes it (not its timer); a pull that reports results is answered at
// once, never held. The server holds a pull longer than the test may
// take, so a pull not woken, or a report held, fails at the deadline:
// nothing here depends on how fast a loaded machine answers.
func TestLongPoll(t *testing.T) {
	spec, _ := structs.ParseArraySpec("1-3%1")
	srv := NewServer(NewDispatcher(spec, 0), nil, "t", time.Now, slog.New(slog.DiscardHandler))
	srv.maxHold = time.Hour
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := WorkerConfig{URL: "http://" + ln.Addr().String(), Token: "t"}
	client := &http.Client{}
	const hold = 3_600_000 // ms: longer than the test's deadline
	send := func(p Pull) (Grant, error) {
		body, _ := json.Marshal(p)
		return pullOnce(ctx, client, cfg, body)
	}
	if g, err := send(Pull{Worker: "a", Slots: 1, Free: 1}); err != nil || len(g.Tasks) != 1 || g.Tasks[0] != l(1, 1) {
		t.Fatalf("first grant %+v (%v)", g, err)
	}
	type answer struct {
		g   Grant
		err error
	}
	waited := make(chan answer, 1)
	go func() {
		g, err := send(Pull{Worker: "b", Slots: 1, Free: 1, WaitMillis: hold})
		waited <- answer{g, err}
	}()
	// b's pull is held, not answered, while a runs task 1 (the throttle's
	// one slot).
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for srv.held.Load() == 0 {
		select {
		case a := <-waited:
			t.Fatalf("an idle worker's pull was answered (%+v, %v) before it was held: no long poll", a.g, a.err)
		case <-ctx.Done():
			t.Fatal("an idle worker's pull was never held")
		case <-tick.C:
		}
	}
	// a reports task 1 and asks for nothing more: answered at once, even
	// with a wait asked for, and its change wakes b's pull with task 2.
	if g, err := send(Pull{Worker: "a", Slots: 1, Free: 0, WaitMillis: hold, Done: []Result{ok(1, 1)}}); err != nil || len(g.Tasks) != 0 {
		t.Fatalf("a reported a result and asked for nothing: got %+v (%v), want an empty answer at once", g, err)
	}
	a := <-waited
	if a.err != nil || len(a.g.Tasks) != 1 || a.g.Tasks[0] != l(2, 1) {
		t.Fatalf("the held pull got %+v (%v), want task 2: the change did not wake it", a.g, a.err)
	}
	// b reports task 2 with nothing free: task 3 is there for the others,
	// and the report is answered at once, never held.
	if g, err := send(Pull{Worker: "b", Slots: 1, Free: 0, WaitMillis: hold, Done: []Result{ok(2, 1)}}); err != nil || len(g.Tasks) != 0 {
		t.Fatalf("b's report got %+v (%v), want an empty answer at once", g, err)
	}
	if n := srv.held.Load(); n != 1 {
		t.Errorf("pulls held %d times, want once (b's idle pull): a report was held", n)
	}
}
