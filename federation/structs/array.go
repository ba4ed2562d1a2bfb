package structs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Bounds of an array job.
const (
	MaxArrayTasks   = 1_000_000 // tasks in one array
	MaxArrayIndex   = 100_000_000
	MaxTaskRetries  = 100
	MaxTaskFailures = 50 // failed tasks an ArrayProgress lists
)

// ArraySpec is the index set of an array job, as Slurm's --array writes
// it: Start-End[:Step][%MaxRunning]. Step 0 means 1; MaxRunning 0 means no
// throttle (every slot of the allocation runs tasks).
//
// It reads JSON either as that string ("1-10000:2%64") or as the object
// {"start":1,"end":10000,"step":2,"max_running":64}; it writes the object.
type ArraySpec struct {
	Start      int `json:"start"`
	End        int `json:"end"`
	Step       int `json:"step,omitempty"`
	MaxRunning int `json:"max_running,omitempty"`
}

// ParseArraySpec parses "N", "A-B", "A-B:S", each optionally followed by
// "%M", and validates the result.
func ParseArraySpec(s string) (ArraySpec, error) {
	bad := func(why string) (ArraySpec, error) {
		return ArraySpec{}, &FieldError{Object: "job", Field: "array", Msg: strconv.Quote(s) + ": " + why}
	}
	var a ArraySpec
	rest := strings.TrimSpace(s)
	if rest == "" {
		return bad("is empty (want START-END[:STEP][%MAX])")
	}
	num := func(v string) (int, bool) {
		n, err := strconv.Atoi(v)
		if err != nil || v == "" || v[0] == '+' || v[0] == '-' {
			return 0, false
		}
		return n, true
	}
	if i := strings.IndexByte(rest, '%'); i >= 0 {
		m, ok := num(rest[i+1:])
		if !ok {
			return bad("the %MAX part is not a number")
		}
		a.MaxRunning, rest = m, rest[:i]
		if a.MaxRunning == 0 {
			return bad("%0 would never run a task")
		}
	}
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		st, ok := num(rest[i+1:])
		if !ok {
			return bad("the :STEP part is not a number")
		}
		a.Step, rest = st, rest[:i]
		if a.Step == 0 {
			return bad("step 0")
		}
	}
	lo, hi, isRange := strings.Cut(rest, "-")
	var ok bool
	if a.Start, ok = num(lo); !ok {
		return bad("want START-END[:STEP][%MAX] with non-negative integers")
	}
	a.End = a.Start
	if isRange {
		if a.End, ok = num(hi); !ok {
			return bad("want START-END[:STEP][%MAX] with non-negative integers")
		}
	}
	if err := a.Validate(); err != nil {
		return bad(err.(*FieldError).Msg)
	}
	return a, nil
}

// Validate checks the bounds: 0 <= Start <= End <= MaxArrayIndex, Step and
// MaxRunning not negative, at most MaxArrayTasks tasks. A wrong field is a
// *FieldError.
func (a ArraySpec) Validate() error {
	bad := func(format string, args ...any) error {
		return &FieldError{Object: "job", Field: "array", Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case a.Start < 0 || a.End < 0:
		return bad("indices must not be negative")
	case a.End < a.Start:
		return bad("end %d before start %d", a.End, a.Start)
	case a.End > MaxArrayIndex:
		return bad("index %d above %d", a.End, MaxArrayIndex)
	case a.Step < 0:
		return bad("step must be positive")
	case a.MaxRunning < 0:
		return bad("max running must be positive")
	case a.Count() > MaxArrayTasks:
		return bad("%d tasks, at most %d", a.Count(), MaxArrayTasks)
	}
	return nil
}

// step is Step with 0 read as 1.
func (a ArraySpec) step() int { return max(a.Step, 1) }

// Count is the number of task indices.
func (a ArraySpec) Count() int {
	if a.End < a.Start {
		return 0
	}
	return (a.End-a.Start)/a.step() + 1
}

// Index returns the i-th task index (0 <= i < Count()).
func (a ArraySpec) Index(i int) int { return a.Start + i*a.step() }

// Max is the largest task index.
func (a ArraySpec) Max() int { return a.Index(a.Count() - 1) }

// Contains reports whether index is one of the array's.
func (a ArraySpec) Contains(index int) bool {
	return index >= a.Start && index <= a.End && (index-a.Start)%a.step() == 0
}

// String writes the spec in the --array syntax.
func (a ArraySpec) String() string {
	s := strconv.Itoa(a.Start) + "-" + strconv.Itoa(a.End)
	if a.Step > 1 {
		s += ":" + strconv.Itoa(a.Step)
	}
	if a.MaxRunning > 0 {
		s += "%" + strconv.Itoa(a.MaxRunning)
	}
	return s
}

// UnmarshalJSON reads the string form (parsed and validated) or the
// object form (unknown fields refused; its bounds are checked by
// Validate, as the request's Validate does).
func (a *ArraySpec) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return &FieldError{Object: "job", Field: "array", Msg: "is not a string"}
		}
		v, err := ParseArraySpec(s)
		if err != nil {
			return err
		}
		*a = v
		return nil
	}
	type plain ArraySpec
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return &FieldError{Object: "job", Field: "array", Msg: "want \"START-END[:STEP][%MAX]\" or {start, end, step, max_running}: " + err.Error()}
	}
	*a = ArraySpec(p) // bounds are the request's Validate's business
	return nil
}

// ArrayJob is what a job record holds of an array: the request and, once
// the job runs, the progress its head reports through the agent.
type ArrayJob struct {
	Spec         ArraySpec      `json:"spec"`
	TaskRetries  int            `json:"task_retries,omitempty"`
	TaskWalltime Duration       `json:"task_walltime,omitempty"`
	Progress     *ArrayProgress `json:"progress,omitempty"`
	// CancelTasks are the indices users canceled, as ranges ("17,42,
	// 100-200"): every cancel adds to them. The agent hands them to the
	// head's dispatcher, which cancels the pending ones at once and kills
	// the running ones; the progress counts them as canceled.
	CancelTasks string `json:"cancel_tasks,omitempty"`
	// OutputSeq counts the requests for task outputs made;
	// OutputRequests are those the head has not answered yet, Outputs
	// the answers kept (see array_output.go).
	OutputSeq      uint64          `json:"output_seq,omitempty"`
	OutputRequests []OutputRequest `json:"output_requests,omitempty"`
	Outputs        []TaskOutput    `json:"outputs,omitempty"`
}

// Copy returns a deep copy of a.
func (a *ArrayJob) Copy() *ArrayJob {
	if a == nil {
		return nil
	}
	c := *a
	c.Progress = a.Progress.Copy()
	c.OutputRequests = slices.Clone(a.OutputRequests)
	c.Outputs = slices.Clone(a.Outputs)
	return &c
}

// ArrayProgress counts an array's tasks. Pending + Running + Succeeded +
// Failed + Canceled = Total; Retried counts attempts that failed and were
// run again (a task retried twice counts twice).
type ArrayProgress struct {
	Total     int `json:"total"`
	Pending   int `json:"pending"`
	Running   int `json:"running"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Canceled  int `json:"canceled,omitempty"`
	Retried   int `json:"retried"`
	// Lost counts attempts lost with their worker (its lease expired:
	// the pod died or was cut off) and granted again.
	Lost int `json:"lost,omitempty"`
	// Nodes is how many of the allocation's pods still take tasks;
	// PeakRunning the most tasks that ever ran at once.
	Nodes       int `json:"nodes"`
	PeakRunning int `json:"peak_running"`
	// SlotSeconds is the sum of every attempt's run time; NodeSeconds is
	// the same charged by slot: each attempt's time over its node's slots.
	SlotSeconds float64 `json:"slot_seconds"`
	NodeSeconds float64 `json:"node_seconds"`
	// Done lists the succeeded indices as ranges ("1-500,502-9999").
	Done string `json:"done,omitempty"`
	// RunningTasks are the indices running now.
	RunningTasks []int `json:"running_tasks,omitempty"`
	// Failures are finally failed (and canceled) tasks, at most
	// MaxTaskFailures of them, lowest index first.
	Failures []TaskResult `json:"failures,omitempty"`
}

// Copy returns a deep copy of p.
func (p *ArrayProgress) Copy() *ArrayProgress {
	if p == nil {
		return nil
	}
	c := *p
	c.RunningTasks = append([]int(nil), p.RunningTasks...)
	c.Failures = append([]TaskResult(nil), p.Failures...)
	return &c
}

// TaskState is where one task of an array is.
type TaskState string

// Task states.
const (
	TaskPending   TaskState = "pending"
	TaskRunning   TaskState = "running"
	TaskSucceeded TaskState = "succeeded"
	TaskFailed    TaskState = "failed"
	TaskCanceled  TaskState = "canceled"
)

// Valid reports whether s is a known task state.
func (s TaskState) Valid() bool {
	switch s {
	case TaskPending, TaskRunning, TaskSucceeded, TaskFailed, TaskCanceled:
		return true
	}
	return false
}

// TaskResult is one task as GET /v1/jobs/{id}/tasks lists it.
type TaskResult struct {
	Index    int       `json:"index"`
	State    TaskState `json:"state"`
	ExitCode int       `json:"exit_code"`
	Attempts int       `json:"attempts,omitempty"`
	Tail     string    `json:"tail,omitempty"` // last bytes of its output
}

// TaskList is the reply of GET /v1/jobs/{id}/tasks.
type TaskList struct {
	Tasks []TaskResult `json:"tasks"`
	// Truncated says the list holds fewer tasks than are in the state.
	Truncated bool `json:"truncated,omitempty"`
}

// FormatRanges writes sorted, distinct indices as "a-b,c,d-e".
func FormatRanges(sorted []int) string {
	var b strings.Builder
	for i := 0; i < len(sorted); {
		j := i
		for j+1 < len(sorted) && sorted[j+1] == sorted[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(sorted[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(sorted[j]))
		}
		i = j + 1
	}
	return b.String()
}

// ParseRanges reads what FormatRanges writes, calling fn for every index
// in order; it stops at the first malformed part.
func ParseRanges(s string, fn func(int) bool) error {
	if s == "" {
		return nil
	}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || b < a || b-a > MaxArrayIndex {
			return invalidf("index ranges %q: bad part %q", s, part)
		}
		for i := a; i <= b; i++ {
			if !fn(i) {
				return nil
			}
		}
	}
	return nil
}

// TaskCancelRequest is the body of POST /v1/jobs/{id}/tasks/cancel: the
// task indices to cancel, as ranges ("17,42,100-200").
type TaskCancelRequest struct {
	Tasks string `json:"tasks"`
}

// MaxCancelTasksLen bounds the ranges of one cancel request and of a
// job's CancelTasks.
const MaxCancelTasksLen = 64 << 10

// MergeTaskRanges returns the union of the index ranges a and b (each as
// FormatRanges writes them, or any order with repeats), checking that
// every index is one of spec's. The union is written as FormatRanges
// does and must stay within MaxCancelTasksLen. A bad part or an index
// not in the array is an ErrInvalid.
func MergeTaskRanges(spec ArraySpec, a, b string) (string, error) {
	seen := map[int]bool{}
	var all []int
	for _, s := range []string{a, b} {
		var bad error
		err := ParseRanges(s, func(i int) bool {
			if !spec.Contains(i) {
				bad = invalidf("task %d is not in the array %s", i, spec.String())
				return false
			}
			if !seen[i] {
				seen[i] = true
				all = append(all, i)
			}
			return len(all) <= MaxArrayTasks
		})
		if err == nil {
			err = bad
		}
		if err != nil {
			return "", err
		}
	}
	slices.Sort(all)
	out := FormatRanges(all)
	if len(out) > MaxCancelTasksLen {
		return "", invalidf("canceled tasks: %d bytes of ranges, at most %d", len(out), MaxCancelTasksLen)
	}
	return out, nil
}
