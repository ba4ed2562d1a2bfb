package runtime

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc/arraytask"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestArrayOutputLines: the runner finds the head's answers in its log
// (a torn or malformed line skipped), reports only answers to requests
// still out that it has not reported (the latest of a task), and drops
// the answers from the log tail it records, with the progress lines.
func TestArrayOutputLines(t *testing.T) {
	line := func(o structs.TaskOutput) string { return arraytask.OutputLine(o) }
	o17 := structs.TaskOutput{Index: 17, State: structs.TaskSucceeded, Attempts: 1, Tail: "seventeen\n", Seq: 4}
	o17b := structs.TaskOutput{Index: 17, State: structs.TaskSucceeded, Attempts: 1, Tail: "seventeen again\n", Seq: 6}
	o42 := structs.TaskOutput{Index: 42, State: structs.TaskRunning, Attempts: 1, Seq: 5}
	o9 := structs.TaskOutput{Index: 9, State: structs.TaskFailed, ExitCode: 2, Attempts: 3, Tail: "nine\n", Seq: 2}
	log := "flotilla-init: starting\n" +
		line(o9) +
		"FLOTILLA-ARRAY-PROGRESS {\"total\":10}\n" +
		line(o17) + line(o42) +
		arraytask.OutputMarker + "{\"index\":1,\"state\":\"bogus\"}\n" +
		"task said " + arraytask.OutputMarker + " in the middle\n" +
		line(o17b) +
		strings.TrimSuffix(line(o9), "}\n") // torn
	found := parseArrayOutputs(log)
	if diff := cmp.Diff([]structs.TaskOutput{o9, o17, o42, o17b}, found); diff != "" {
		t.Fatalf("parsed (-want +got):\n%s", diff)
	}
	cases := map[string]struct {
		requested string
		sent      map[int]uint64
		want      []structs.TaskOutput
	}{
		"nothing asked":          {"", nil, nil},
		"each asked":             {"9@2,17@6,42@5", nil, []structs.TaskOutput{o9, o42, o17b}},
		"an answer to an older":  {"17@7", nil, nil},
		"already reported":       {"9@2,17@6", map[int]uint64{9: 2, 17: 6}, nil},
		"reported an older one":  {"17@6", map[int]uint64{17: 4}, []structs.TaskOutput{o17b}},
		"asked of no answer yet": {"3@8", nil, nil},
		"malformed annotation":   {"17", nil, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, newOutputs(found, tc.requested, tc.sent)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if got := stripArrayLines(log); strings.Contains(got, "seventeen") || strings.Contains(got, "FLOTILLA-ARRAY-PROGRESS") ||
		!strings.HasPrefix(got, "flotilla-init: starting\n") || !strings.Contains(got, "task said "+arraytask.OutputMarker+" in the middle\n") {
		t.Errorf("stripArrayLines = %q", got)
	}
}
