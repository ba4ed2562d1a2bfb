package structs

import (
	"errors"
	"strings"
	"testing"
)

// TestParseTaskList: a task list is read as --array is (the same forms,
// bounds and words), without %MAX; NotInArray names the indices outside
// the array, at most a bounded line of them.
func TestParseTaskList(t *testing.T) {
	for in, want := range map[string]string{
		"17":             "17",
		"17,42,90-100":   "17,42,90-100",
		"1-100:25":       "1,26,51,76",
		" 5-7 , 1 ":      "1,5-7",
		"3-9:3,1,2,8-10": "1-3,6,8-10",
	} {
		sel, err := ParseTaskList(in)
		if err != nil || FormatTasks(sel) != want {
			t.Errorf("%q: %q, %v; want %q", in, FormatTasks(sel), err, want)
		}
	}
	for in, says := range map[string]string{
		"1-10%2":                   "a %MAX belongs to --array",
		"":                         "is empty",
		"5-2":                      "end 2 before start 5",
		"1-10:0":                   "step 0",
		"x":                        `part "x"`,
		"0-100000001":              "above 100000000",
		"0-999999,1000001-1000002": "name more than 1000000 indices",
	} {
		_, err := ParseTaskList(in)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "tasks" || !strings.Contains(fe.Msg, says) {
			t.Errorf("%q: %v, want a tasks field error saying %q", in, err, says)
		}
		if _, aerr := ParseArraySpec(in); in != "1-10%2" && (aerr == nil || !strings.Contains(aerr.Error(), says)) {
			t.Errorf("%q: --array says %v, want the same words %q", in, aerr, says)
		}
	}

	j := &Job{Number: 12, Array: &ArrayJob{Spec: ArraySpec{Start: 1, End: 10, MaxRunning: 2}}}
	sel, _ := ParseTaskList("1-10")
	if err := NotInArray(ErrInvalid, j, sel); err != nil {
		t.Errorf("tasks of the array: %v", err)
	}
	sel, _ = ParseTaskList("0-1000:2")
	err := NotInArray(ErrInvalid, j, sel)
	if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "tasks 0,12,14,") ||
		!strings.Contains(err.Error(), ",... (496 indices) are not in job 12's array (1-10)") || len(err.Error()) > 300 {
		t.Errorf("many outside: %v", err)
	}
	if err := TaskNotInArray(ErrNotFound, j, 11); !errors.Is(err, ErrNotFound) || !strings.HasPrefix(err.Error(), "task 11 is not in job 12's array (1-10)") {
		t.Errorf("one outside: %v", err)
	}
}
