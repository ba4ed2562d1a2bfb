package structs

import (
	"errors"
	"strconv"
	"strings"
)

// ParseTaskList reads a list of an array job's task indices (flotilla
// cancel --tasks, POST /v1/jobs/{id}/tasks/cancel) as ParseArraySpec
// reads --array: START-END[:STEP] ranges and single indices,
// comma-separated, with the same bounds and messages, but without a
// %MAX, which says how an array runs, not which tasks. A bad list is a
// *FieldError of the job's field "tasks".
func ParseTaskList(s string) (ArraySpec, error) {
	if i := strings.IndexByte(s, '%'); i >= 0 {
		return ArraySpec{}, &FieldError{Object: "job", Field: "tasks",
			Msg: strconv.Quote(shortSpec(s)) + ": a %MAX belongs to --array, not to a list of tasks"}
	}
	sel, err := ParseArraySpec(s)
	var fe *FieldError
	if errors.As(err, &fe) {
		return ArraySpec{}, &FieldError{Object: "job", Field: "tasks", Msg: fe.Msg}
	}
	return sel, err
}

func shortSpec(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Indices writes the spec's task indices as --array takes them, without
// its %MAX.
func (a ArraySpec) Indices() string {
	a.MaxRunning = 0
	return a.String()
}

// FormatTasks writes the indices of sel in ascending order as
// FormatRanges does ("17,42,90-100"): the form of Job.Array.CancelTasks.
func FormatTasks(sel ArraySpec) string {
	all := make([]int, 0, sel.Count())
	for _, i := range sel.All() {
		all = append(all, i)
	}
	return FormatRanges(all)
}

// maxNamedTasks bounds the indices an error names.
const maxNamedTasks = 200

// NotInArray checks that every index of sel is a task of job j's array
// and else returns the error naming those that are not (at most
// maxNamedTasks bytes of them), of kind: "task 17 is not in job 12's
// array (1,3,7-9)", "tasks 0,101-120 are not in job 12's array (1-100)".
// The hub answers reads of one task with ErrNotFound and writes listing
// tasks with ErrInvalid (docs/array-jobs.md).
func NotInArray(kind error, j *Job, sel ArraySpec) error {
	var out []int
	for _, i := range sel.All() {
		if !j.Array.Spec.Contains(i) {
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		return nil
	}
	list := FormatRanges(out)
	if len(list) > maxNamedTasks {
		cut := strings.LastIndexByte(list[:maxNamedTasks], ',')
		list = list[:max(cut, 0)] + ",... (" + strconv.Itoa(len(out)) + " indices)"
	}
	if len(out) == 1 {
		return Errorf(kind, "task %s is not in job %d's array (%s)", list, j.Number, j.Array.Spec.Indices())
	}
	return Errorf(kind, "tasks %s are not in job %d's array (%s)", list, j.Number, j.Array.Spec.Indices())
}

// TaskNotInArray is NotInArray of one index.
func TaskNotInArray(kind error, j *Job, index int) error {
	if j.Array.Spec.Contains(index) {
		return nil
	}
	return Errorf(kind, "task %d is not in job %d's array (%s)", index, j.Number, j.Array.Spec.Indices())
}
