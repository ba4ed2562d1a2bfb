package runtime

import (
	"encoding/json"
	"strings"

	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc/arraytask"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Task output on request. The hub's unanswered requests for task outputs
// (Job.Array.OutputRequests) go on the head pod's annotation
// AnnotOutputTasks (syncCancelTasks); the head answers each new one with
// a line starting with arraytask.OutputMarker in its log. The runner
// reads those lines with the progress (a longer tail while requests are
// out), reports each answer once, and strips them from the log tail it
// records, as it strips the progress lines.

// arrayLogReadBytes bounds one read of an array head's log: output lines
// are long (up to arraytask.MaxOutputLine), and the newest lines must not
// be cut off by older ones.
const arrayLogReadBytes = 256 << 10

// outputLines is how many of the head's last log lines are searched for
// answers while requests are out: every request's line and the progress
// lines printed meanwhile.
const outputLines = progressLines + 2*structs.MaxOutputRequests

// outputTasksOf is the annotation value of j's unanswered requests.
func outputTasksOf(j *structs.Job) string {
	if j == nil || j.Array == nil {
		return ""
	}
	return structs.FormatOutputRequests(j.Array.OutputRequests)
}

// parseArrayOutputs returns the output lines of log, in order (a torn
// or malformed line is skipped). Pure.
func parseArrayOutputs(log string) []structs.TaskOutput {
	var out []structs.TaskOutput
	for l := range strings.SplitSeq(log, "\n") {
		rest, ok := strings.CutPrefix(l, arraytask.OutputMarker)
		if !ok {
			continue
		}
		var o structs.TaskOutput
		if json.Unmarshal([]byte(rest), &o) == nil && o.State.Valid() {
			out = append(out, o)
		}
	}
	return out
}

// newOutputs picks from found the answers to requests still out (the
// annotation value requested) that were not reported yet (sent: task
// index -> sequence reported), the last answer of each task. Pure.
func newOutputs(found []structs.TaskOutput, requested string, sent map[int]uint64) []structs.TaskOutput {
	reqs, _ := structs.ParseOutputRequests(requested)
	if len(reqs) == 0 || len(found) == 0 {
		return nil
	}
	want := make(map[int]uint64, len(reqs))
	for _, r := range reqs {
		want[r.Index] = r.Seq
	}
	var out []structs.TaskOutput
	at := map[int]int{}
	for _, o := range found {
		seq, ok := want[o.Index]
		if !ok || o.Seq < seq || o.Seq <= sent[o.Index] {
			continue
		}
		if i, dup := at[o.Index]; dup {
			out[i] = o
			continue
		}
		at[o.Index] = len(out)
		out = append(out, o)
	}
	return out
}

// stripArrayLines drops the progress and output lines from a log tail:
// the job record carries their content as counts and task outputs.
func stripArrayLines(log string) string {
	if !strings.Contains(log, arraytask.ProgressMarker) && !strings.Contains(log, arraytask.OutputMarker) {
		return log
	}
	lines := strings.SplitAfter(log, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, arraytask.ProgressMarker) && !strings.HasPrefix(l, arraytask.OutputMarker) {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "")
}
