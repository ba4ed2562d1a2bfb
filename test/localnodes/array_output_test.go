package localnodes

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc/arraytask"
	"github.com/flotilla-hpc/flotilla/federation/cli"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/proc"
)

// TestArrayTaskOutputOnRequest: an array whose tasks print their index
// (stdout and stderr); task 5 fails for good, tasks 10 and up wait for a
// gate, so the array runs while the test asks for task outputs through
// the hub (REST and `flotilla tasks JOB --output N`): finished tasks show
// their text, exit code and attempt, a running one shows it runs. Bad
// requests are 4xx and change nothing. After the array ended, what was
// fetched is served from the hub's record, a task never fetched answers
// 410, and no output line shows in the job's log tail.
func TestArrayTaskOutputOnRequest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := startArrayEnv(ctx, t, "output", `I=$FLOTILLA_ARRAY_TASK_ID
echo "task $I attempt $FLOTILLA_ARRAY_TASK_ATTEMPT says hello"
echo "task $I on stderr" >&2
if [ "$I" -ge 10 ]; then
  while [ ! -e $S/go ]; do sleep 0.05; done
fi
echo "$I" >> $S/out
[ "$I" -ne 5 ] || exit 3
`)
	j := a.submit(ctx, t, "1-40", 0)
	out := filepath.Join(a.shared, "out")
	waitFor(ctx, t, "tasks 1-9 done", func() bool { return len(readLinesQuiet(out)) >= 9 })

	ask := func(index int) *structs.TaskOutput {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			o, msg, err := a.alice.TaskOutput(ctx, j.ID, index, 10*time.Second)
			if errors.Is(err, structs.ErrConflict) && time.Now().Before(deadline) {
				// The tasks can run before the agent's report that the job
				// runs reaches the hub (a loaded machine): until then the
				// hub refuses with 409. Ask again.
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatalf("output of task %d: %v", index, err)
			}
			if o != nil {
				return o
			}
			if time.Now().After(deadline) {
				t.Fatalf("output of task %d not answered within a minute: %s", index, msg)
			}
		}
	}
	start := time.Now()
	o3 := ask(3)
	t.Logf("task 3 answered through the hub in %s: %+v", time.Since(start).Round(time.Millisecond), *o3)
	if o3.State != structs.TaskSucceeded || o3.ExitCode != 0 || o3.Attempts != 1 || o3.NotKept ||
		!strings.Contains(o3.Tail, "task 3 attempt 1 says hello\n") || !strings.Contains(o3.Tail, "task 3 on stderr\n") || o3.Time.IsZero() {
		t.Errorf("task 3: %+v, want succeeded, exit 0, attempt 1, its two lines", *o3)
	}
	if o5 := ask(5); o5.State != structs.TaskFailed || o5.ExitCode != 3 || !strings.Contains(o5.Tail, "task 5 attempt 1 says hello") {
		t.Errorf("task 5: %+v, want failed with exit code 3 and its lines", *o5)
	}
	if o20 := ask(20); o20.State != structs.TaskRunning {
		t.Errorf("task 20 (waiting for the gate): %+v, want running", *o20)
	}

	// The CLI, as a user runs it: a header line, then the tail.
	stdout, stderr, code := a.cli(ctx, t, "tasks", j.ID, "--output", "7", "--wait", "1m")
	if code != cli.ExitOK || !strings.HasPrefix(stdout, "== task 7: succeeded, exit code 0, attempt 1, taken ") ||
		!strings.Contains(stdout, "task 7 attempt 1 says hello\n") || !strings.Contains(stdout, "task 7 on stderr\n") {
		t.Errorf("flotilla tasks --output 7: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	// Bad requests: 4xx with a reason, nothing recorded.
	before, err := a.alice.GetJob(ctx, j.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	for index, want := range map[int]error{41: structs.ErrNotFound, 0: structs.ErrNotFound, -1: structs.ErrInvalid} {
		_, _, err := a.alice.TaskOutput(ctx, j.ID, index, time.Second)
		if !errors.Is(err, want) {
			t.Errorf("output of task %d: %v, want %v", index, err, want)
		}
	}
	if _, _, err := a.alice.TaskOutput(ctx, "no-such-job", 1, time.Second); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("output of a task of no job: %v, want not found", err)
	}
	if _, stderr, code := a.cli(ctx, t, "tasks", j.ID, "--output", "41"); code != cli.ExitNotFound || !strings.Contains(stderr, "task 41 is not in job "+strconv.FormatUint(j.Number, 10)+"'s array (1-40)") {
		t.Errorf("flotilla tasks --output 41: exit %d (%s), want %d", code, stderr, cli.ExitNotFound)
	}
	after, err := a.alice.GetJob(ctx, j.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if after.Array.OutputSeq != before.Array.OutputSeq {
		t.Errorf("bad requests changed the job's requests: seq %d -> %d", before.Array.OutputSeq, after.Array.OutputSeq)
	}
	if strings.Contains(after.LogTail, "FLOTILLA-ARRAY") {
		t.Errorf("the running job's log tail shows array lines:\n%s", after.LogTail)
	}

	// Open the gate; the array ends by itself.
	if err := os.WriteFile(filepath.Join(a.shared, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	final := a.waitEnd(ctx, t, j.ID, nil)
	if final.State != structs.JobCompletedWithError {
		t.Fatalf("job ended %s (%s), want COMPLETED_WITH_ERROR (task 5 failed)", final.State, final.Substatus)
	}
	for _, marker := range []string{arraytask.OutputMarker, arraytask.ProgressMarker, "says hello"} {
		if strings.Contains(final.LogTail, marker) {
			t.Errorf("final log tail shows %q:\n%s", marker, final.LogTail)
		}
	}
	// What was fetched is served from the record; what was not is gone.
	o3after, msg, err := a.alice.TaskOutput(ctx, j.ID, 3, time.Second)
	if err != nil || o3after == nil || o3after.Tail != o3.Tail || o3after.State != structs.TaskSucceeded {
		t.Errorf("task 3 after the end: %+v %q %v, want what was fetched", o3after, msg, err)
	}
	for _, index := range []int{12, 20} { // never fetched; fetched only while running
		if _, _, err := a.alice.TaskOutput(ctx, j.ID, index, time.Second); !errors.Is(err, structs.ErrGone) ||
			!strings.Contains(err.Error(), "not kept after the job ended") {
			t.Errorf("task %d after the end: %v, want 410 not kept after the job ended", index, err)
		}
	}
	if _, stderr, code := a.cli(ctx, t, "tasks", j.ID, "--output", "12"); code != cli.ExitNotFound || !strings.Contains(stderr, "not kept after the job ended") {
		t.Errorf("flotilla tasks --output 12 after the end: exit %d (%s), want %d", code, stderr, cli.ExitNotFound)
	}
	if o5, _, err := a.alice.TaskOutput(ctx, j.ID, 5, time.Second); err != nil || o5.ExitCode != 3 {
		t.Errorf("task 5 after the end: %+v %v", o5, err)
	}
}

// cli runs the shipped flotilla command as alice and returns its stdout,
// stderr and exit code.
func (a *arrayTest) cli(ctx context.Context, t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	bin, err := proc.FindBin("flotilla")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), cli.EnvHub+"="+a.hubs.URLs()[0], cli.EnvAPIKey+"="+a.aliceKey, cli.EnvCAFile+"="+a.hubs.CAFile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatalf("flotilla %s: %v", strings.Join(args, " "), err)
	return "", "", 0
}
