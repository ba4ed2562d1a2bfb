package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
)

// hubRaftLogLines is -hub-raft-log: how many of the replicas' raft
// warnings and errors of a row to print on stderr (0: none, the count
// only).
var hubRaftLogLines = 40

// raftLogs collects the replicas' raft log lines (warnings and errors)
// while a hub row runs, each stamped with the time and the replica.
type raftLogs struct {
	mu    sync.Mutex
	lines []string
	on    bool
}

// logger is replica id's raft logger, into l.
func (l *raftLogs) logger(id string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name: id, Level: hclog.Warn, Output: &raftLogWriter{l: l},
		TimeFormat: "15:04:05.000",
	})
}

// start keeps the lines from now on; stop returns them and keeps no more.
func (l *raftLogs) start() {
	l.mu.Lock()
	l.lines, l.on = nil, true
	l.mu.Unlock()
}

func (l *raftLogs) stop() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines, l.on = nil, false
	return out
}

type raftLogWriter struct{ l *raftLogs }

func (w *raftLogWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	if w.l.on {
		for line := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
			w.l.lines = append(w.l.lines, line)
		}
	}
	return len(p), nil
}

var _ io.Writer = (*raftLogWriter)(nil)

// leaderFigures is what a row saw of raft's leadership: the replicas'
// role changes summed (raftnode.Transitions), the highest term before and
// after, and how late this process ran a goroutine woken by a timer (the
// heartbeats' case: a leader that runs late sees its followers late).
type leaderFigures struct {
	changes, stepDowns, candidacies, hbFailures uint64
	termBefore, termAfter                       uint64
	stall                                       stallFigures
	logs                                        []string
}

func (f leaderFigures) String() string {
	return fmt.Sprintf("leader changes %d (step-downs %d, candidacies %d, failed heartbeats %d, term %d -> %d); %v",
		f.changes, f.stepDowns, f.candidacies, f.hbFailures, f.termBefore, f.termAfter, f.stall)
}

// leaderWatch measures one row's leadership on a running hub.
type leaderWatch struct {
	cl     *benchHub
	before []raftnode.Transitions
	term   uint64
	probe  *stallProbe
}

// watchLeaders starts measuring cl's leadership (call it once the hub
// is seeded, right before the row's submissions).
func watchLeaders(cl *benchHub) *leaderWatch {
	w := &leaderWatch{cl: cl}
	w.before, w.term = cl.transitions()
	cl.raftLogs.start()
	w.probe = startStallProbe()
	return w
}

// stop ends the measure and returns the row's figures.
func (w *leaderWatch) stop() leaderFigures {
	f := leaderFigures{stall: w.probe.stop(), logs: w.cl.raftLogs.stop(), termBefore: w.term}
	var after []raftnode.Transitions
	after, f.termAfter = w.cl.transitions()
	for i := range min(len(after), len(w.before)) {
		a, b := after[i], w.before[i]
		f.changes += a.Leaderships - b.Leaderships
		f.stepDowns += a.StepDowns - b.StepDowns
		f.candidacies += a.Candidacies - b.Candidacies
		f.hbFailures += a.HeartbeatFailures - b.HeartbeatFailures
	}
	return f
}

// print writes the row's figures on stderr, with the replicas' raft
// warnings when leadership moved (at most -hub-raft-log lines).
func (f leaderFigures) print(row string) {
	fmt.Fprintf(os.Stderr, "bench: %s: %v\n", row, f)
	if f.changes+f.stepDowns+f.candidacies == 0 || hubRaftLogLines <= 0 {
		return
	}
	lines := f.logs
	if len(lines) > hubRaftLogLines {
		fmt.Fprintf(os.Stderr, "bench: %s: the first %d of %d raft warnings:\n", row, hubRaftLogLines, len(lines))
		lines = lines[:hubRaftLogLines]
	}
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString("  raft: " + l + "\n")
	}
	os.Stderr.Write(b.Bytes())
}

// transitions reads every live replica's transitions (indexed by
// replica) and the highest term.
func (b *benchHub) transitions() ([]raftnode.Transitions, uint64) {
	out := make([]raftnode.Transitions, b.N())
	var term uint64
	for _, i := range b.Live() {
		if h := b.Hub(i); h != nil {
			out[i] = h.Node().Transitions()
			term = max(term, h.Node().Term())
		}
	}
	return out, term
}

// stallProbe is a goroutine woken every stallTick by a timer, as raft's
// heartbeat goroutines are, noting how late it ran.
type stallProbe struct {
	stopCh chan struct{}
	done   chan stallFigures
	sched0 *metrics.Float64Histogram
}

const stallTick = 10 * time.Millisecond

// stallFigures: the worst lateness of the probe, how often it was over
// 100 and 500 ms late, and the runtime's own view: the longest
// stop-the-world pause for the GC and the 99th percentile and worst time
// goroutines waited runnable (/sched/latencies), over the row.
type stallFigures struct {
	worst                time.Duration
	over100ms, over500ms int
	gcPauseMax           time.Duration
	schedP99, schedWorst time.Duration
}

func (s stallFigures) String() string {
	return fmt.Sprintf("a timer's goroutine ran up to %v late (%d times over 100 ms, %d over 500 ms); goroutines waited runnable p99 %v, worst %v; GC pauses up to %v",
		s.worst.Round(time.Millisecond), s.over100ms, s.over500ms, s.schedP99.Round(10*time.Microsecond),
		s.schedWorst.Round(time.Millisecond), s.gcPauseMax.Round(10*time.Microsecond))
}

func startStallProbe() *stallProbe {
	p := &stallProbe{stopCh: make(chan struct{}), done: make(chan stallFigures, 1), sched0: readHist("/sched/latencies:seconds")}
	gc0 := readHist("/sched/pauses/total/gc:seconds")
	go func() {
		var f stallFigures
		t := time.NewTimer(stallTick)
		defer t.Stop()
		due := time.Now().Add(stallTick)
		for {
			select {
			case <-p.stopCh:
				gc := histDelta(gc0, readHist("/sched/pauses/total/gc:seconds"))
				_, f.gcPauseMax = histQuantile(gc, 1)
				p.done <- f
				return
			case <-t.C:
				late := time.Since(due)
				f.worst = max(f.worst, late)
				if late > 100*time.Millisecond {
					f.over100ms++
				}
				if late > 500*time.Millisecond {
					f.over500ms++
				}
				due = time.Now().Add(stallTick)
				t.Reset(stallTick)
			}
		}
	}()
	return p
}

func (p *stallProbe) stop() stallFigures {
	close(p.stopCh)
	f := <-p.done
	d := histDelta(p.sched0, readHist("/sched/latencies:seconds"))
	_, f.schedP99 = histQuantile(d, 0.99)
	_, f.schedWorst = histQuantile(d, 1)
	return f
}

func readHist(name string) *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	h := s[0].Value.Float64Histogram()
	return &metrics.Float64Histogram{Counts: slices.Clone(h.Counts), Buckets: slices.Clone(h.Buckets)}
}

// histDelta is b's counts minus a's (same buckets).
func histDelta(a, b *metrics.Float64Histogram) *metrics.Float64Histogram {
	if a == nil || b == nil || len(a.Counts) != len(b.Counts) {
		return b
	}
	d := &metrics.Float64Histogram{Counts: slices.Clone(b.Counts), Buckets: b.Buckets}
	for i := range d.Counts {
		d.Counts[i] -= a.Counts[i]
	}
	return d
}

// histQuantile returns the lower and upper bound of the bucket holding
// quantile q (q = 1: the highest bucket with a count); an infinite bound
// is reported as its finite neighbour.
func histQuantile(h *metrics.Float64Histogram, q float64) (lo, hi time.Duration) {
	if h == nil {
		return 0, 0
	}
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	if total == 0 {
		return 0, 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= want && c > 0 {
			l, u := h.Buckets[i], h.Buckets[i+1]
			if math.IsInf(l, -1) {
				l = 0
			}
			if math.IsInf(u, 1) {
				u = l
			}
			return time.Duration(l * float64(time.Second)), time.Duration(u * float64(time.Second))
		}
	}
	return 0, 0
}
