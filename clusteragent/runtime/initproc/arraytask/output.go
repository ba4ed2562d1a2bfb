package arraytask

import (
	"encoding/json"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Task output. A worker sends the last TailBytes of every attempt's
// output (stdout and stderr) with its result, successes too; the
// dispatcher keeps the latest attempt's for each task, in memory, within
// a byte budget (OutputBudget): when it is spent, the outputs kept
// longest are dropped first, so 10,000 tasks of 4 KiB each cost at most
// the budget, not 40 MiB. The journal keeps only a failed attempt's last
// failTail bytes (a restarted dispatcher has those, not the successes').
// Output answers for one task (GET PathOutput?task=N).

// OutputBudget bounds the bytes of task output a dispatcher keeps.
const OutputBudget = 8 << 20

type keptOutput struct {
	tail string
	seq  uint64
}

// outputs holds the latest output of tasks within a byte budget, the
// oldest dropped first.
type outputs struct {
	budget int
	used   int
	seq    uint64
	m      map[int]keptOutput // by ordinal
	order  []orderEntry       // insertion order; entries whose seq moved on are stale
	// dropped has a bit set for every ordinal whose output was dropped
	// for the budget (and not replaced since): its output is "not kept",
	// not "none".
	dropped []uint64
}

type orderEntry struct {
	ordinal int
	seq     uint64
}

func (o *outputs) put(ordinal int, tail string) {
	if o.m == nil {
		o.m = map[int]keptOutput{}
	}
	if old, ok := o.m[ordinal]; ok {
		o.used -= len(old.tail)
		delete(o.m, ordinal)
	}
	o.setDropped(ordinal, false)
	if tail == "" {
		return
	}
	o.seq++
	o.m[ordinal] = keptOutput{tail: tail, seq: o.seq}
	o.used += len(tail)
	o.order = append(o.order, orderEntry{ordinal, o.seq})
	for o.used > o.budget && len(o.order) > 0 {
		e := o.order[0]
		o.order = o.order[1:]
		if k, ok := o.m[e.ordinal]; ok && k.seq == e.seq {
			o.used -= len(k.tail)
			delete(o.m, e.ordinal)
			o.setDropped(e.ordinal, true)
		}
	}
	if len(o.order) > 2*len(o.m)+1024 { // drop stale entries
		live := o.order[:0:0]
		for _, e := range o.order {
			if k, ok := o.m[e.ordinal]; ok && k.seq == e.seq {
				live = append(live, e)
			}
		}
		o.order = live
	}
}

func (o *outputs) get(ordinal int) string { return o.m[ordinal].tail }

func (o *outputs) setDropped(ordinal int, on bool) {
	w, bit := ordinal/64, uint64(1)<<(ordinal%64)
	if w >= len(o.dropped) {
		if !on {
			return
		}
		o.dropped = append(o.dropped, make([]uint64, w+1-len(o.dropped))...)
	}
	if on {
		o.dropped[w] |= bit
	} else {
		o.dropped[w] &^= bit
	}
}

func (o *outputs) wasDropped(ordinal int) bool {
	w := ordinal / 64
	return w < len(o.dropped) && o.dropped[w]&(1<<(ordinal%64)) != 0
}

// TaskOutput is Output as the head answers a request for it: NotKept
// when the task's latest output was dropped for the budget (what is left
// is the journal's short tail of a failure, if any).
func (d *Dispatcher) TaskOutput(index int) (structs.TaskOutput, bool) {
	r, ok := d.Output(index)
	if !ok {
		return structs.TaskOutput{}, false
	}
	o, _ := d.ordinal(index)
	return structs.TaskOutput{Index: index, State: r.State, ExitCode: r.ExitCode, Attempts: r.Attempts,
		Tail: r.Tail, NotKept: d.out.wasDropped(o) && d.out.get(o) == ""}, true
}

// outputsLostInRestart marks, after a journal replay, the output of every
// task with an attempt ended before the restart as not kept: outputs lived
// in the dead dispatcher's memory, and the journal holds only a failure's
// last failTail bytes (which Output still answers with). A task that ends
// again after the restart keeps its new output as usual.
func (d *Dispatcher) outputsLostInRestart() {
	for o := range d.tasks {
		t := &d.tasks[o]
		if t.attempts > 1 || (t.attempts == 1 && t.state != tRunning) {
			d.out.put(o, "")
			d.out.setDropped(o, true)
		}
	}
}

// OutputBytes is how many bytes of task output the dispatcher holds.
func (d *Dispatcher) OutputBytes() int { return d.out.used }

// Output returns task index's state, exit status, attempts and the last
// output of its latest ended attempt (empty when it had none, or it was
// dropped for the budget); false when index is not one of the array's.
func (d *Dispatcher) Output(index int) (structs.TaskResult, bool) {
	o, ok := d.ordinal(index)
	if !ok {
		return structs.TaskResult{}, false
	}
	t := &d.tasks[o]
	r := structs.TaskResult{Index: index, ExitCode: t.exit, Attempts: t.attempts, Tail: d.out.get(o)}
	switch t.state {
	case tPending:
		r.State = structs.TaskPending
	case tRunning:
		r.State = structs.TaskRunning
	case tSucceeded:
		r.State = structs.TaskSucceeded
	case tFailed:
		r.State = structs.TaskFailed
	case tCanceled:
		r.State = structs.TaskCanceled
	}
	if r.Tail == "" && t.tail != "" {
		r.Tail = t.tail
	}
	return r, true
}

// journaled is r as the journal keeps it: a failure's last failTail
// bytes of output, none of a success's.
func journaled(r Result) Result {
	switch {
	case r.Exit == 0 && !r.Expired:
		r.Tail = ""
	case len(r.Tail) > failTail:
		r.Tail = r.Tail[len(r.Tail)-failTail:]
	}
	return r
}

// OutputMarker starts the line the head prints to answer a request for a
// task's output (JSON of structs.TaskOutput follows, at most
// MaxOutputLine bytes in all); the agent reads it from the head's log with
// the progress and reports it to the hub.
const OutputMarker = "FLOTILLA-ARRAY-OUTPUT "

// MaxOutputLine bounds an output line: a tail that escapes to more is cut
// (its start goes) until the line fits.
const MaxOutputLine = 12 << 10

// OutputLine is the line (with its newline) answering a request with o;
// its tail is cut to its last structs.MaxOutputTail bytes, and further
// while the line would exceed MaxOutputLine. Pure.
func OutputLine(o structs.TaskOutput) string {
	if len(o.Tail) > structs.MaxOutputTail {
		o.Tail = o.Tail[len(o.Tail)-structs.MaxOutputTail:]
	}
	for {
		b, _ := json.Marshal(o) // plain fields: cannot fail
		if len(OutputMarker)+len(b)+1 <= MaxOutputLine || o.Tail == "" {
			return OutputMarker + string(b) + "\n"
		}
		o.Tail = o.Tail[len(o.Tail)/2:]
	}
}

// TaskOutput is Dispatcher.TaskOutput under the server's lock.
func (s *Server) TaskOutput(index int) (structs.TaskOutput, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d.TaskOutput(index)
}
