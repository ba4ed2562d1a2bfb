package structs

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Task output on request. The head's dispatcher holds the last output of
// each task (within its memory budget) on the job's pod network, which
// the hub and the agent cannot reach. A user's request for task N's
// output (GET /v1/jobs/{id}/tasks/{n}/output) is recorded on the job
// (ArrayJob.OutputRequests, raft command JobOutputRequest); the agent puts
// the requests on the head pod's annotation, the head prints each answer
// as a line of its log (FLOTILLA-ARRAY-OUTPUT, see arraytask), the agent
// reads it with the progress and reports it, and the hub keeps it on the
// job (ArrayJob.Outputs): the last MaxKeptOutputs of them, the oldest
// dropped. What the hub keeps is all there is once the job ended.

// Bounds of task output on request.
const (
	// MaxOutputRequests is how many unanswered requests a job holds (the
	// oldest dropped).
	MaxOutputRequests = 32
	// MaxKeptOutputs is how many task outputs a job record keeps (the
	// oldest dropped).
	MaxKeptOutputs = 32
	// MaxOutputTail is the bytes of one task's output kept (its end).
	MaxOutputTail = 4 << 10
	// OutputRequestRetry: a request unanswered this long is made again
	// (the head may have printed its answer while no agent read it).
	OutputRequestRetry = 20 * time.Second
	// OutputFresh: the output of a task that was not final when it was
	// taken (pending, running) is asked for again after this.
	OutputFresh = 5 * time.Second
)

// OutputRequest is one request for a task's output: Seq is the job's
// OutputSeq when it was made, so the head tells a repeated request for
// the same task from one it answered.
type OutputRequest struct {
	Index int       `json:"index"`
	Seq   uint64    `json:"seq"`
	Time  time.Time `json:"time"`
}

// TaskOutput is one task's state and output tail as its head answered a
// request: the reply of GET /v1/jobs/{id}/tasks/{n}/output.
type TaskOutput struct {
	Index    int       `json:"index"`
	State    TaskState `json:"state"`
	ExitCode int       `json:"exit_code"`
	Attempts int       `json:"attempts"`
	// Tail is the last bytes (at most MaxOutputTail) of the latest ended
	// attempt's stdout and stderr.
	Tail string `json:"tail"`
	// NotKept: the task ran but its head no longer holds its output (it
	// keeps the latest outputs within a memory budget; see
	// arraytask.OutputBudget), or the job ended before it was fetched
	// and Tail is only what the final counts carry of a failure.
	NotKept bool `json:"not_kept,omitempty"`
	// Seq is the request it answers; Time when the hub recorded it.
	Seq  uint64    `json:"seq,omitempty"`
	Time time.Time `json:"time"`
}

// TaskOutputPending is the reply (202 Accepted) of a request for a task's
// output that the head has not answered yet: ask again.
type TaskOutputPending struct {
	Index     int    `json:"index"`
	Requested bool   `json:"requested"` // always true
	Message   string `json:"message"`
}

// JobOutputRequest records a request for a task's output on a running
// array job (see ArrayJob.OutputRequests).
type JobOutputRequest struct {
	ID    string    `json:"id"`
	Index int       `json:"index"`
	Time  time.Time `json:"time"`
}

// final reports whether s is a state a task does not leave.
func (s TaskState) final() bool {
	return s == TaskSucceeded || s == TaskFailed || s == TaskCanceled
}

// WithOutputRequest returns a copy of a with a request for task index's
// output (replacing an earlier one for it) at time at; the oldest
// requests go beyond MaxOutputRequests. Pure.
func (a *ArrayJob) WithOutputRequest(index int, at time.Time) *ArrayJob {
	n := a.Copy()
	n.OutputSeq++
	reqs := slices.DeleteFunc(n.OutputRequests, func(r OutputRequest) bool { return r.Index == index })
	reqs = append(reqs, OutputRequest{Index: index, Seq: n.OutputSeq, Time: at})
	if len(reqs) > MaxOutputRequests {
		reqs = reqs[len(reqs)-MaxOutputRequests:]
	}
	n.OutputRequests = reqs
	return n
}

// WithOutputs returns a copy of a with the task outputs outs recorded at
// time at: each replaces the one kept for its task and answers the
// requests for it up to its Seq; outputs of indices not in the array are
// ignored, tails cut to their last MaxOutputTail bytes, and only the
// newest MaxKeptOutputs kept. Pure.
func (a *ArrayJob) WithOutputs(outs []TaskOutput, at time.Time) *ArrayJob {
	n := a.Copy()
	for _, o := range outs {
		if !n.Spec.Contains(o.Index) {
			continue
		}
		if len(o.Tail) > MaxOutputTail {
			o.Tail = o.Tail[len(o.Tail)-MaxOutputTail:]
		}
		o.Time = at
		n.Outputs = append(slices.DeleteFunc(n.Outputs, func(k TaskOutput) bool { return k.Index == o.Index }), o)
		n.OutputRequests = slices.DeleteFunc(n.OutputRequests, func(r OutputRequest) bool {
			return r.Index == o.Index && r.Seq <= o.Seq
		})
	}
	if len(n.Outputs) > MaxKeptOutputs {
		n.Outputs = n.Outputs[len(n.Outputs)-MaxKeptOutputs:]
	}
	return n
}

// OutputAction is what the hub does about a request for a task's output.
type OutputAction int

// Output actions.
const (
	OutputServe OutputAction = iota // answer with the output it has
	OutputAsk                       // record a request, then wait for the answer
	OutputWait                      // a request is out: wait for the answer
)

// DecideTaskOutput decides how to answer a request for task index's
// output of job j at now: serve what the record keeps (the returned
// output), record a request for the head, or wait for one already out.
// Not an array (ErrInvalid), not one of its tasks (ErrNotFound), a job
// that has not run yet (ErrConflict) and an ended job that kept nothing
// of the task (ErrGone) are errors that say so. Pure.
func DecideTaskOutput(j *Job, index int, now time.Time) (OutputAction, *TaskOutput, error) {
	a := j.Array
	switch {
	case a == nil:
		return 0, nil, Errorf(ErrInvalid, "job %q is not an array job: it has no tasks", j.ID)
	case !a.Spec.Contains(index):
		return 0, nil, TaskNotInArray(ErrNotFound, j, index)
	}
	var kept *TaskOutput
	if i := slices.IndexFunc(a.Outputs, func(o TaskOutput) bool { return o.Index == index }); i >= 0 {
		o := a.Outputs[i]
		kept = &o
	}
	switch {
	case j.State.IsTerminal():
		if kept != nil && kept.State.final() { // one taken while it ran is out of date
			return OutputServe, kept, nil
		}
		if f := failureOf(a.Progress, index); f != nil {
			return OutputServe, f, nil
		}
		return 0, nil, Errorf(ErrGone, "output of task %d not kept after the job ended (job %q is %s): the hub keeps only the outputs of ended tasks fetched while the job ran, and the failed tasks' last lines",
			index, j.ID, j.State)
	case j.State != JobRunning:
		return 0, nil, Errorf(ErrConflict, "job %q is %s: its tasks have no output until it runs", j.ID, j.State)
	case kept != nil && (kept.State.final() || now.Sub(kept.Time) < OutputFresh):
		return OutputServe, kept, nil
	}
	for _, r := range a.OutputRequests {
		if r.Index == index && now.Sub(r.Time) < OutputRequestRetry {
			return OutputWait, nil, nil
		}
	}
	return OutputAsk, nil, nil
}

// failureOf is task index as the final counts list it among the failures
// (a short tail), nil if they do not.
func failureOf(p *ArrayProgress, index int) *TaskOutput {
	if p == nil {
		return nil
	}
	for _, f := range p.Failures {
		if f.Index == index {
			return &TaskOutput{Index: index, State: f.State, ExitCode: f.ExitCode, Attempts: f.Attempts, Tail: f.Tail, NotKept: true}
		}
	}
	return nil
}

// FormatOutputRequests writes requests as the head pod's annotation
// carries them: "INDEX@SEQ,..." in the order given.
func FormatOutputRequests(reqs []OutputRequest) string {
	var b strings.Builder
	for i, r := range reqs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(r.Index))
		b.WriteByte('@')
		b.WriteString(strconv.FormatUint(r.Seq, 10))
	}
	return b.String()
}

// ParseOutputRequests reads what FormatOutputRequests writes, at most
// MaxOutputRequests of them; a malformed list is an ErrInvalid.
func ParseOutputRequests(s string) ([]OutputRequest, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxOutputRequests {
		return nil, invalidf("output requests: %d of them, at most %d", len(parts), MaxOutputRequests)
	}
	out := make([]OutputRequest, 0, len(parts))
	for _, p := range parts {
		i, q, ok := strings.Cut(p, "@")
		index, err1 := strconv.Atoi(i)
		seq, err2 := strconv.ParseUint(q, 10, 64)
		if !ok || err1 != nil || err2 != nil || index < 0 || index > MaxArrayIndex {
			return nil, invalidf("output requests %q: bad part %q (want INDEX@SEQ)", s, p)
		}
		out = append(out, OutputRequest{Index: index, Seq: seq})
	}
	return out, nil
}
