// Package arraytask runs the tasks of an array job inside its allocation.
// The head's flotilla-init serves a task dispatcher on the job's pod
// network (Server); every pod's flotilla-init, the head's too, pulls tasks
// from it and runs each as a process, as many at once as its slots
// (Worker). The dispatcher's decisions are a pure state machine
// (Dispatcher: state + event → decisions), its durable state a journal of
// fsynced records (Journal), so a restarted dispatcher never hands out
// again a task that finished.
package arraytask

import (
	"slices"
	"sort"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Lease names one attempt of one task: the worker that holds it reports
// its result under it. Attempts count from 1.
type Lease struct {
	Index   int `json:"index"`
	Attempt int `json:"attempt"`
}

// Result is the end of one attempt.
type Result struct {
	Lease
	Exit    int     `json:"exit"`
	Seconds float64 `json:"seconds"`
	Tail    string  `json:"tail,omitempty"`
	// Expired: the attempt's lease expired with its worker (see Expire):
	// it is granted again without using up a task retry.
	Expired bool `json:"expired,omitempty"`
}

// Pull is one worker's request: what ended since its last pull, what it
// still runs, and how many more tasks it can take.
type Pull struct {
	Worker  string   `json:"worker"`
	Slots   int      `json:"slots"`
	Free    int      `json:"free"`
	Done    []Result `json:"done,omitempty"`
	Holding []Lease  `json:"holding,omitempty"`
	// Stay: the worker stays until every task is final (the head's), so
	// a drained answer is not its end. WaitMillis: with nothing held and
	// nothing to report, the dispatcher may hold the pull this long until
	// there is something for it (long poll).
	Stay       bool `json:"stay,omitempty"`
	WaitMillis int  `json:"wait_ms,omitempty"`
}

// Grant answers a Pull: tasks to start, running tasks to kill (canceled),
// and Drained once nothing is left for this worker to start: it exits
// when its running tasks end (the head's worker stays until All is done).
type Grant struct {
	Tasks   []Lease `json:"tasks,omitempty"`
	Kill    []Lease `json:"kill,omitempty"`
	Drained bool    `json:"drained,omitempty"`
	AllDone bool    `json:"all_done,omitempty"`
}

type taskState uint8

const (
	tPending taskState = iota
	tRunning
	tSucceeded
	tFailed
	tCanceled
)

type task struct {
	state    taskState
	attempts int
	lost     int // attempts whose lease expired
	exit     int
	worker   string
	tail     string
	cancel   bool // cancel asked while running
}

type worker struct {
	slots   int
	drained bool
	running map[int]bool // ordinals
	// seen is the last pull (zero: not since a restart); gone says its
	// lease expired and its tasks went to others, until it pulls again.
	seen time.Time
	gone bool
}

func (d *Dispatcher) worker(name string) *worker {
	wk := d.workers[name]
	if wk == nil {
		wk = &worker{running: map[int]bool{}}
		d.workers[name] = wk
	}
	return wk
}

// advance moves next past tasks no longer waiting for a first start.
func (d *Dispatcher) advance() {
	for d.next < len(d.tasks) && d.tasks[d.next].state != tPending {
		d.next++
	}
}

// Dispatcher is the pure core: every method takes an event and returns
// what follows; it reads no clock and does no I/O.
type Dispatcher struct {
	spec       structs.ArraySpec
	pos        *structs.ArrayPositions // index <-> ordinal, a list's too
	retries    int
	maxRunning int

	tasks   []task // by ordinal
	next    int    // lowest never-started ordinal
	retryQ  []int  // ordinals waiting for another attempt, FIFO
	workers map[string]*worker

	running, succeeded, failed, canceled, retried, lost int
	slotSeconds, nodeSeconds                            float64
	// LeaseTTL is how long a worker's tasks stay its own without a pull
	// from it (0: forever); see Expire.
	LeaseTTL time.Duration
	// Peak is the most tasks ever running at once.
	Peak int
	out  outputs
}

// NewDispatcher returns the state of an array none of whose tasks ran.
func NewDispatcher(spec structs.ArraySpec, retries int) *Dispatcher {
	return &Dispatcher{spec: spec, pos: spec.Positions(), retries: retries, maxRunning: spec.MaxRunning,
		tasks: make([]task, spec.Count()), workers: map[string]*worker{}, out: outputs{budget: OutputBudget}}
}

func (d *Dispatcher) ordinal(index int) (int, bool) { return d.pos.Position(index) }

// Done reports whether every task is final.
func (d *Dispatcher) Done() bool {
	return d.succeeded+d.failed+d.canceled == len(d.tasks)
}

// pending reports whether a task waits to be started.
func (d *Dispatcher) pending() bool {
	return len(d.retryQ) > 0 || d.next < len(d.tasks)
}

// Record applies one ended attempt; a result for a lease that is not the
// task's current running attempt (a duplicate) changes nothing. It returns
// whether it changed the state (the change to journal).
func (d *Dispatcher) Record(r Result) bool {
	o, ok := d.ordinal(r.Index)
	if !ok {
		return false
	}
	t := &d.tasks[o]
	if t.state != tRunning || t.attempts != r.Attempt {
		return false
	}
	d.running--
	d.slotSeconds += r.Seconds
	if wk := d.workers[t.worker]; wk != nil {
		delete(wk.running, o)
		d.nodeSeconds += r.Seconds / float64(max(wk.slots, 1))
	}
	tail := r.Tail
	if len(tail) > TailBytes {
		tail = tail[len(tail)-TailBytes:]
	}
	d.out.put(o, tail)
	if len(tail) > failTail {
		tail = tail[len(tail)-failTail:]
	}
	t.exit, t.tail, t.worker = r.Exit, tail, ""
	switch {
	case t.cancel:
		t.state = tCanceled
		d.canceled++
	case r.Expired && t.lost < MaxLostAttempts:
		// Lost with its worker: granted again first, no retry used.
		t.state = tPending
		t.lost++
		d.lost++
		d.retryQ = append(d.retryQ, o)
	case r.Exit == 0 && !r.Expired:
		t.state, t.tail = tSucceeded, ""
		d.succeeded++
	case t.attempts <= d.retries:
		t.state = tPending
		d.retried++
		d.retryQ = append(d.retryQ, o)
	default:
		t.state = tFailed
		d.failed++
	}
	return true
}

// Start marks an attempt running on worker w (a grant, or a journal
// replay of one).
func (d *Dispatcher) Start(l Lease, w string) {
	o, ok := d.ordinal(l.Index)
	if !ok {
		return
	}
	t := &d.tasks[o]
	if t.state == tRunning || t.state == tSucceeded || t.state == tFailed || t.state == tCanceled {
		return
	}
	if i := slices.Index(d.retryQ, o); i >= 0 {
		d.retryQ = slices.Delete(d.retryQ, i, i+1)
	}
	t.state, t.attempts, t.worker = tRunning, l.Attempt, w
	d.worker(w).running[o] = true
	d.running++
	d.Peak = max(d.Peak, d.running)
	d.advance()
}

// Handle answers a worker's pull at time now: it expires the leases of
// workers silent for LeaseTTL, applies the results, fails the attempts
// the worker no longer holds (lost), tells it to kill what it holds that
// is not its own any more (canceled, or expired and granted again), and
// grants up to Free new attempts within the throttle. It returns the
// grant and the records to journal before the grant is sent (expiries,
// results, losses and grants).
func (d *Dispatcher) Handle(p Pull, now time.Time) (Grant, []Record) {
	recs := d.Expire(now)
	wk := d.worker(p.Worker)
	wk.slots = max(p.Slots, 1)
	wk.seen, wk.gone = now, false
	for _, r := range p.Done {
		if d.Record(r) {
			recs = append(recs, Record{Kind: RecEnd, Worker: p.Worker, Result: journaled(r)})
		}
	}
	// A task this worker was running, not reported and not held any more,
	// was lost with its process: a failed attempt.
	holding := map[Lease]bool{}
	var g Grant
	for _, l := range p.Holding {
		holding[l] = true
		if o, ok := d.ordinal(l.Index); !ok || !wk.running[o] || d.tasks[o].attempts != l.Attempt {
			g.Kill = append(g.Kill, l) // not this worker's attempt (any more)
		}
	}
	var lost []Result
	for o := range wk.running {
		t := &d.tasks[o]
		l := Lease{Index: d.pos.Index(o), Attempt: t.attempts}
		switch {
		case !holding[l]:
			lost = append(lost, Result{Lease: l, Exit: ExitLost})
		case t.cancel:
			g.Kill = append(g.Kill, l)
		}
	}
	sort.Slice(lost, func(i, j int) bool { return lost[i].Index < lost[j].Index })
	sort.Slice(g.Kill, func(i, j int) bool { return g.Kill[i].Index < g.Kill[j].Index })
	for _, r := range lost {
		if d.Record(r) {
			recs = append(recs, Record{Kind: RecEnd, Worker: p.Worker, Result: r})
		}
	}
	for free := p.Free; free > 0 && d.pending() && (d.maxRunning == 0 || d.running < d.maxRunning); free-- {
		var o int
		if len(d.retryQ) > 0 {
			o = d.retryQ[0]
		} else {
			o = d.next
		}
		l := Lease{Index: d.pos.Index(o), Attempt: d.tasks[o].attempts + 1}
		d.Start(l, p.Worker)
		g.Tasks = append(g.Tasks, l)
		recs = append(recs, Record{Kind: RecStart, Worker: p.Worker, Lease: l})
	}
	g.AllDone = d.Done()
	g.Drained = !d.pending() && len(g.Tasks) == 0
	if g.Drained {
		wk.drained = true
	}
	return g, recs
}

// Cancel cancels tasks by index: pending ones at once, running ones when
// their worker kills them (the next pull's Kill). Indices not in the array
// or already final are ignored. It returns the records to journal.
func (d *Dispatcher) Cancel(indices []int) []Record {
	var recs []Record
	for _, i := range indices {
		o, ok := d.ordinal(i)
		if !ok {
			continue
		}
		t := &d.tasks[o]
		switch t.state {
		case tPending:
			t.state = tCanceled
			d.canceled++
			if k := slices.Index(d.retryQ, o); k >= 0 {
				d.retryQ = slices.Delete(d.retryQ, k, k+1)
			}
			d.advance()
		case tRunning:
			t.cancel = true
		default:
			continue
		}
		recs = append(recs, Record{Kind: RecCancel, Lease: Lease{Index: i}})
	}
	return recs
}

// Running is the number of tasks running now.
func (d *Dispatcher) Running() int { return d.running }

// Progress counts the tasks for the hub.
func (d *Dispatcher) Progress() structs.ArrayProgress {
	p := structs.ArrayProgress{
		Total: len(d.tasks), Running: d.running, Succeeded: d.succeeded, Failed: d.failed,
		Canceled: d.canceled, Retried: d.retried,
		SlotSeconds: d.slotSeconds, NodeSeconds: d.nodeSeconds, PeakRunning: d.Peak,
	}
	p.Pending = p.Total - p.Running - p.Succeeded - p.Failed - p.Canceled
	p.Lost = d.lost
	for _, w := range d.workers {
		if !w.drained && !w.gone {
			p.Nodes++
		}
	}
	var done []int
	for o, index := range d.spec.All() { // ordinals in index order
		t := &d.tasks[o]
		switch t.state {
		case tSucceeded:
			done = append(done, index)
		case tRunning:
			p.RunningTasks = append(p.RunningTasks, index)
		case tFailed, tCanceled:
			if len(p.Failures) < structs.MaxTaskFailures {
				st := structs.TaskFailed
				if t.state == tCanceled {
					st = structs.TaskCanceled
				}
				tail := t.tail
				if len(tail) > progressTail {
					tail = tail[len(tail)-progressTail:]
				}
				p.Failures = append(p.Failures, structs.TaskResult{Index: index, State: st,
					ExitCode: t.exit, Attempts: t.attempts, Tail: tail})
			}
		}
	}
	p.Done = structs.FormatRanges(done) // sorted: All goes in index order
	return p
}

// progressTail bounds the output a failure in the progress carries, so
// the progress line stays short.
const progressTail = 160

// ExitLost is the exit status recorded for an attempt whose process was
// lost (its worker no longer held it); ExitWalltime for one killed at its
// task walltime (as timeout(1) reports).
const (
	ExitLost     = -1
	ExitWalltime = 124
)
