package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOutputFollow: output --follow prints a running job's reported lines
// as they come, each once, and returns when the job ends (tail -f).
func TestOutputFollow(t *testing.T) {
	u := newUserHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCLI(t, u.env, "submit", "--app", "solver", "--machine", "n1").check(t, ExitOK, "(number 1)")
	u.place(ctx, t, 1)
	u.report(ctx, t, "1", structs.JobRunning, 0, "step 1\nstep 2\n")
	// Before --follow: the lines reported so far, and the hint.
	runCLI(t, u.env, "output", "1").check(t, ExitOK, "step 1\nstep 2\n")

	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"output", "1", "--follow", "--timeout", "20s"}, &out, &errb, func(k string) string { return u.env[k] })
	}()
	waitFor := func(want string) {
		t.Helper()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for !strings.HasSuffix(out.String(), want) {
			select {
			case <-ctx.Done():
				t.Fatalf("output --follow printed %q, want it to end in %q (stderr %q)", out.String(), want, errb.String())
			case <-tick.C:
			}
		}
	}
	waitFor("step 2\n")
	u.report(ctx, t, "1", structs.JobRunning, 0, "step 2\nstep 3\n") // the tail window slides
	waitFor("step 3\n")
	u.report(ctx, t, "1", structs.JobCompleted, 0, "step 3\nstep 4\ndone\n")
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("output --follow exit %d, stderr %q", code, errb.String())
		}
	case <-ctx.Done():
		t.Fatal("output --follow did not return when the job ended")
	}
	if got, want := out.String(), "step 1\nstep 2\nstep 3\nstep 4\ndone\n"; got != want {
		t.Errorf("output --follow printed %q, want %q", got, want)
	}
	// A finished job: --follow prints its whole output and returns at
	// once, exit 0, the flag before or after the job, by number or name.
	name := strings.TrimSpace(runCLI(t, u.env, "jobs", "--all", "-o", "json").stdout)
	var jobs []structs.Job
	if err := json.Unmarshal([]byte(name), &jobs); err != nil || len(jobs) != 1 {
		t.Fatalf("jobs -o json: %v %s", err, name)
	}
	for _, args := range [][]string{{"output", "1", "--follow"}, {"output", "--follow", "1"}, {"output", "--follow", jobs[0].Name}, {"output", "--follow", jobs[0].ID}} {
		r := runCLI(t, u.env, args...)
		r.check(t, ExitOK)
		if r.stdout != "step 3\nstep 4\ndone\n" || r.stderr != "" {
			t.Errorf("%v: stdout %q stderr %q", args, r.stdout, r.stderr)
		}
	}
	r := runCLI(t, u.env, "-o", "json", "output", "--follow", "1")
	r.check(t, ExitOK, `{"id":"`+jobs[0].ID+`"`, `"state":"COMPLETED"`, `"output":"step 3\nstep 4\ndone\n"}`)
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("-o json output --follow of a finished job: want one line, got %q", r.stdout)
	}
	// A job that ended with no output says so, as without --follow.
	runCLI(t, u.env, "submit", "--app", "solver", "--machine", "n1").check(t, ExitOK, "(number 2)")
	runCLI(t, u.env, "cancel", "2").check(t, ExitOK)
	r = runCLI(t, u.env, "output", "--follow", "2")
	r.check(t, ExitOK, "ended CANCELED with no output")
	if r.stdout != "" {
		t.Errorf("output --follow of a job without output: stdout %q", r.stdout)
	}
}

func TestNewLines(t *testing.T) {
	tests := map[string]struct{ old, tail, want string }{
		"first":         {"", "a\nb\n", "a\nb\n"},
		"same":          {"a\nb\n", "a\nb\n", ""},
		"grown":         {"a\nb\n", "a\nb\nc\n", "c\n"},
		"slid":          {"a\nb\nc\n", "c\nd\n", "d\n"},
		"no overlap":    {"a\nb\n", "x\ny\n", "x\ny\n"},
		"no newline":    {"a\nb", "a\nb\nc", "c\n"},
		"repeated line": {"x\nx\n", "x\nx\nx\n", "x\n"},
		"emptied":       {"a\n", "", ""},
	}
	for name, tc := range tests {
		if got := newLines(tc.old, tc.tail); got != tc.want {
			t.Errorf("%s: newLines(%q, %q) = %q, want %q", name, tc.old, tc.tail, got, tc.want)
		}
	}
}
