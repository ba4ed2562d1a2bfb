package structs

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDecideTaskOutput: how the hub answers a request for a task's
// output, for every state of the job and of what its record keeps.
func TestDecideTaskOutput(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	done := TaskOutput{Index: 3, State: TaskSucceeded, Attempts: 1, Tail: "three\n", Seq: 1, Time: t0}
	running := TaskOutput{Index: 1, State: TaskRunning, Attempts: 1, Seq: 2, Time: t0}
	job := func(state JobState, edit func(a *ArrayJob)) *Job {
		a := &ArrayJob{Spec: ArraySpec{Start: 1, End: 9, Step: 2}, OutputSeq: 3, Outputs: []TaskOutput{done, running},
			OutputRequests: []OutputRequest{{Index: 5, Seq: 3, Time: t0}},
			Progress:       &ArrayProgress{Total: 5, Failures: []TaskResult{{Index: 9, State: TaskFailed, ExitCode: 2, Attempts: 1, Tail: "nine"}}}}
		if edit != nil {
			edit(a)
		}
		return &Job{ID: "j", State: state, Array: a}
	}
	type want struct {
		act OutputAction
		out *TaskOutput
		err error
	}
	cases := map[string]struct {
		j     *Job
		index int
		at    time.Duration
		want  want
	}{
		"not an array":                {&Job{ID: "j", State: JobRunning}, 1, 0, want{err: ErrInvalid}},
		"not an index (step)":         {job(JobRunning, nil), 2, 0, want{err: ErrNotFound}},
		"not an index (beyond)":       {job(JobRunning, nil), 11, 0, want{err: ErrNotFound}},
		"not running yet":             {job(JobQueued, nil), 1, 0, want{err: ErrConflict}},
		"running: ended task kept":    {job(JobRunning, nil), 3, time.Hour, want{act: OutputServe, out: &done}},
		"running: running task fresh": {job(JobRunning, nil), 1, OutputFresh - time.Second, want{act: OutputServe, out: &running}},
		"running: running task stale": {job(JobRunning, nil), 1, OutputFresh, want{act: OutputAsk}},
		"running: never asked":        {job(JobRunning, nil), 7, 0, want{act: OutputAsk}},
		"running: asked, unanswered":  {job(JobRunning, nil), 5, OutputRequestRetry - time.Second, want{act: OutputWait}},
		"running: asked long ago":     {job(JobRunning, nil), 5, OutputRequestRetry, want{act: OutputAsk}},
		"ended: ended task kept":      {job(JobCompleted, nil), 3, time.Hour, want{act: OutputServe, out: &done}},
		"ended: kept while running":   {job(JobCompleted, nil), 1, 0, want{err: ErrGone}},
		"ended: never fetched":        {job(JobCompleted, nil), 7, 0, want{err: ErrGone}},
		"ended: a failure in the counts": {job(JobCompletedWithError, nil), 9, 0,
			want{act: OutputServe, out: &TaskOutput{Index: 9, State: TaskFailed, ExitCode: 2, Attempts: 1, Tail: "nine", NotKept: true}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			act, out, err := DecideTaskOutput(tc.j, tc.index, t0.Add(tc.at))
			if tc.want.err != nil {
				if !errors.Is(err, tc.want.err) {
					t.Fatalf("error %v, want %v", err, tc.want.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, want{act: act, out: out}, cmp.AllowUnexported(want{})); diff != "" {
				t.Error(diff)
			}
		})
	}
}

// TestOutputRequestsAndAnswers: requests are bounded (the oldest go), a
// repeated one replaces the earlier with a new sequence; answers replace
// the kept output of their task, clear the requests they answer (not a
// newer one), drop indices outside the array, cut long tails, and only the
// newest MaxKeptOutputs are kept. The job's copy is never changed.
func TestOutputRequestsAndAnswers(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	a := &ArrayJob{Spec: ArraySpec{Start: 0, End: 999}}
	for i := range MaxOutputRequests + 5 {
		a = a.WithOutputRequest(i, t0)
	}
	if len(a.OutputRequests) != MaxOutputRequests || a.OutputRequests[0].Index != 5 || a.OutputSeq != MaxOutputRequests+5 {
		t.Fatalf("%d requests from task %d, seq %d", len(a.OutputRequests), a.OutputRequests[0].Index, a.OutputSeq)
	}
	before := a
	a = a.WithOutputRequest(7, t0.Add(time.Second))
	last := a.OutputRequests[len(a.OutputRequests)-1]
	if len(a.OutputRequests) != MaxOutputRequests || last != (OutputRequest{Index: 7, Seq: a.OutputSeq, Time: t0.Add(time.Second)}) {
		t.Fatalf("asked again for task 7: %+v", last)
	}
	if len(before.OutputRequests) != MaxOutputRequests || before.OutputRequests[2].Index != 7 {
		t.Fatal("WithOutputRequest changed the array it was given")
	}

	long := string(make([]byte, MaxOutputTail+10))
	b := a.WithOutputs([]TaskOutput{
		{Index: 6, State: TaskSucceeded, Tail: "six", Seq: 0},  // answers an older request than the one out: stays out
		{Index: 8, State: TaskSucceeded, Tail: long, Seq: 100}, // answers it
		{Index: 5000, State: TaskSucceeded, Seq: 100},          // not in the array
	}, t0.Add(time.Minute))
	if len(b.Outputs) != 2 || b.Outputs[1].Index != 8 || len(b.Outputs[1].Tail) != MaxOutputTail || b.Outputs[1].Time != t0.Add(time.Minute) {
		t.Errorf("outputs kept: %d, last %d with %d bytes at %s", len(b.Outputs), b.Outputs[1].Index, len(b.Outputs[1].Tail), b.Outputs[1].Time)
	}
	has := func(a *ArrayJob, index int) bool {
		for _, r := range a.OutputRequests {
			if r.Index == index {
				return true
			}
		}
		return false
	}
	if !has(b, 6) || has(b, 8) || len(b.OutputRequests) != MaxOutputRequests-1 {
		t.Errorf("requests after the answers: 6 out %v, 8 out %v, %d out", has(b, 6), has(b, 8), len(b.OutputRequests))
	}
	if len(a.Outputs) != 0 {
		t.Error("WithOutputs changed the array it was given")
	}
	for i := range 2 * MaxKeptOutputs {
		b = b.WithOutputs([]TaskOutput{{Index: i, State: TaskSucceeded, Tail: "x"}}, t0)
	}
	if len(b.Outputs) != MaxKeptOutputs || b.Outputs[0].Index != MaxKeptOutputs {
		t.Errorf("%d outputs kept from task %d, want the newest %d", len(b.Outputs), b.Outputs[0].Index, MaxKeptOutputs)
	}
	b = b.WithOutputs([]TaskOutput{{Index: 40, State: TaskFailed, ExitCode: 1, Tail: "again"}}, t0)
	if len(b.Outputs) != MaxKeptOutputs || b.Outputs[MaxKeptOutputs-1].Tail != "again" {
		t.Error("a task's new output does not replace its old one")
	}
}

func TestParseOutputRequests(t *testing.T) {
	reqs := []OutputRequest{{Index: 17, Seq: 5}, {Index: 0, Seq: 6}}
	s := FormatOutputRequests(reqs)
	if s != "17@5,0@6" {
		t.Fatalf("format: %q", s)
	}
	got, err := ParseOutputRequests(" " + s + "\n")
	if err != nil || !cmp.Equal(got, reqs) {
		t.Fatalf("parse %q: %v %v", s, got, err)
	}
	many := FormatOutputRequests(make([]OutputRequest, MaxOutputRequests+1))
	for name, bad := range map[string]string{"no seq": "17", "negative": "-1@2", "word": "a@1", "seq word": "1@x",
		"too many": many, "empty part": "1@1,,2@2"} {
		if _, err := ParseOutputRequests(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s (%q): %v, want invalid", name, bad, err)
		}
	}
	if got, err := ParseOutputRequests(""); err != nil || got != nil {
		t.Errorf("empty: %v %v", got, err)
	}
}
