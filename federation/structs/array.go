package structs

import (
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
	// MaxArrayRanges bounds the ranges of an index list ("1,3,7-9"), as
	// written and once merged; MaxArraySpecLen the length of its string
	// form (Slurm's own bound is a 4 KiB string).
	MaxArrayRanges  = 1000
	MaxArraySpecLen = 16 << 10
)

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
