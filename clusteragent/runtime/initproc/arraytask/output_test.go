package arraytask

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestOutputsBounded: the dispatcher keeps the last output of every
// task's latest attempt, successes too, within OutputBudget however many
// tasks write how much (the oldest dropped first); the journal records no
// success's output and only the last bytes of a failure's.
func TestOutputsBounded(t *testing.T) {
	const n = 10000
	// Every task writes a full tail: 40 MB without the budget.
	d := NewDispatcher(spec("1-10000"), 1)
	big := strings.Repeat("x", TailBytes-6)
	var journal []Record
	var granted, held []Lease // held: task 150's second attempt runs on
	for {
		var done []Result
		for _, ls := range granted {
			r := Result{Lease: ls, Tail: big + "|" + pad(ls.Index)}
			switch {
			case ls.Index == 150 && ls.Attempt == 1:
				r.Exit = 3
			case ls.Index == 150:
				held = append(held, ls)
				continue
			}
			done = append(done, r)
		}
		g, recs := d.Handle(Pull{Worker: "a", Slots: 100, Free: 100, Done: done, Holding: held}, t0)
		journal = append(journal, recs...)
		if len(g.Tasks) == 0 {
			break
		}
		granted = g.Tasks
	}
	if got := d.OutputBytes(); got > OutputBudget || got < OutputBudget-2*TailBytes {
		t.Errorf("%d bytes of output kept, want just under the budget %d", got, OutputBudget)
	}
	last, ok := d.Output(n)
	if !ok || last.State != structs.TaskSucceeded || !strings.HasSuffix(last.Tail, "|10000") || len(last.Tail) != TailBytes {
		t.Errorf("the latest task's output: %+v", last.State)
	}
	if first, _ := d.Output(1); first.Tail != "" || first.State != structs.TaskSucceeded {
		t.Errorf("the oldest output is kept beyond the budget (%d bytes, %s)", len(first.Tail), first.State)
	}
	// Answering a request: the dropped output says so, a kept one does not.
	if o, _ := d.TaskOutput(1); !o.NotKept || o.Tail != "" {
		t.Errorf("task 1's output was dropped for the budget: answer %+v, want not kept", o.NotKept)
	}
	if o, _ := d.TaskOutput(n); o.NotKept || !strings.HasSuffix(o.Tail, "|10000") {
		t.Errorf("task %d's output is kept: answer not kept %v", n, o.NotKept)
	}
	if f, _ := d.Output(150); f.State != structs.TaskRunning || f.Attempts != 2 || !strings.HasSuffix(f.Tail, "|00150") {
		t.Errorf("a failed attempt's output while its retry runs: %+v", f.State)
	}
	if _, ok := d.Output(10001); ok {
		t.Error("an index outside the array has an output")
	}
	for _, r := range journal {
		if r.Kind != RecEnd {
			continue
		}
		if want := map[bool]int{true: failTail, false: 0}[r.Result.Exit == 3]; len(r.Result.Tail) != want {
			t.Fatalf("journal keeps %d bytes of task %d's output (exit %d), want %d", len(r.Result.Tail), r.Result.Index, r.Result.Exit, want)
		}
	}
}

func pad(i int) string {
	s := "00000" + itoa(i)
	return s[len(s)-5:]
}

func itoa(i int) string {
	var b []byte
	for i > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	return string(b)
}

// TestOutputLine: the answer to a request is one line, at most
// MaxOutputLine bytes however the tail escapes, keeping the tail's end;
// the agent's parser reads it back.
func TestOutputLine(t *testing.T) {
	cases := map[string]struct {
		tail     string
		wantTail func(got string) bool
	}{
		"plain": {"hello\nworld\n", func(got string) bool { return got == "hello\nworld\n" }},
		"longer than a tail": {strings.Repeat("a", 2*structs.MaxOutputTail) + "END",
			func(got string) bool { return len(got) == structs.MaxOutputTail && strings.HasSuffix(got, "END") }},
		"escapes to more than a line": {strings.Repeat("\x01", structs.MaxOutputTail-3) + "END",
			func(got string) bool { return len(got) < structs.MaxOutputTail && strings.HasSuffix(got, "END") }},
		"empty": {"", func(got string) bool { return got == "" }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			l := OutputLine(structs.TaskOutput{Index: 17, State: structs.TaskSucceeded, Attempts: 1, Tail: tc.tail, Seq: 4})
			if len(l) > MaxOutputLine || !strings.HasPrefix(l, OutputMarker) || strings.Count(l, "\n") != 1 || !strings.HasSuffix(l, "\n") {
				t.Fatalf("line of %d bytes, %d newlines: %.80q", len(l), strings.Count(l, "\n"), l)
			}
			var o structs.TaskOutput
			if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSuffix(l, "\n"), OutputMarker)), &o); err != nil {
				t.Fatal(err)
			}
			if o.Index != 17 || o.Seq != 4 || !tc.wantTail(o.Tail) {
				t.Errorf("read back index %d seq %d tail of %d bytes (%.40q...)", o.Index, o.Seq, len(o.Tail), o.Tail)
			}
		})
	}
}

// TestOutputAfterRestartNotKept: a restarted dispatcher (its journal
// replayed) answers a task that ended before the restart as not kept —
// with the journal's tail of a failure, none of a success — never as an
// empty output; a task that ends after the restart has its output.
func TestOutputAfterRestartNotKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	d := NewDispatcher(spec("1-4"), 0)
	j, _, err := OpenJournal(path, d)
	if err != nil {
		t.Fatal(err)
	}
	g, recs := d.Handle(Pull{Worker: "a", Slots: 4, Free: 4}, t0)
	if len(g.Tasks) != 4 {
		t.Fatalf("granted %d of 4", len(g.Tasks))
	}
	byIndex := map[int]Lease{}
	for _, l := range g.Tasks {
		byIndex[l.Index] = l
	}
	// 1 succeeds, 2 fails for good, 3 and 4 still run at the restart.
	done := []Result{{Lease: byIndex[1], Tail: "one says hello"}, {Lease: byIndex[2], Exit: 3, Tail: "two failed"}}
	_, more := d.Handle(Pull{Worker: "a", Slots: 4, Done: done, Holding: []Lease{byIndex[3], byIndex[4]}}, t0)
	if err := j.Append(append(recs, more...)); err != nil {
		t.Fatal(err)
	}
	if o, _ := d.TaskOutput(1); o.NotKept || o.Tail != "one says hello" {
		t.Fatalf("before the restart task 1 answers %+v", o)
	}
	j.Close()

	d2 := NewDispatcher(spec("1-4"), 0)
	j2, n, err := OpenJournal(path, d2)
	if err != nil || n == 0 {
		t.Fatalf("replay: %d records, %v", n, err)
	}
	defer j2.Close()
	want := map[int]structs.TaskOutput{
		1: {Index: 1, State: structs.TaskSucceeded, Attempts: 1, NotKept: true},
		2: {Index: 2, State: structs.TaskFailed, ExitCode: 3, Attempts: 1, Tail: "two failed", NotKept: true},
		3: {Index: 3, State: structs.TaskRunning, Attempts: 1},
	}
	for i, w := range want {
		if got, _ := d2.TaskOutput(i); got != w {
			t.Errorf("after the restart task %d answers %+v, want %+v", i, got, w)
		}
	}
	d2.Handle(Pull{Worker: "a", Slots: 4, Done: []Result{{Lease: byIndex[3], Tail: "three, after the restart"}}, Holding: []Lease{byIndex[4]}}, t0)
	if got, _ := d2.TaskOutput(3); got.NotKept || got.Tail != "three, after the restart" || got.State != structs.TaskSucceeded {
		t.Errorf("a task ended after the restart answers %+v", got)
	}
}
