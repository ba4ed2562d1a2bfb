package main

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// cpuMark is the moment a bind row's window opens or closes: the time,
// every process's CPU so far and the table's POSTs in flight integrated
// so far (inFlightArea).
type cpuMark struct {
	at   time.Time
	cpu  map[string]time.Duration
	area float64
}

func markNow(env *k8senv.Env) *cpuMark {
	return &cpuMark{at: time.Now(), cpu: processesCPU(env), area: inFlightArea()}
}

// bindWindow is what a bind row cost from its first bind to its last
// (the ceiling: from its start to its last reply), the stretch its rate
// is measured over. The row's usage (meter) also counts what comes before
// (the agent's start: its informers' first list of every pod and node),
// which costs CPU but no time of the rate's.
type bindWindow struct {
	wall     time.Duration
	pods     int
	inFlight float64                  // POSTs in flight on average (Little's law)
	cpu      map[string]time.Duration // per process, "bench" for this one
}

func windowOf(from, to *cpuMark, pods int) bindWindow {
	w := bindWindow{wall: to.at.Sub(from.at), pods: pods, cpu: map[string]time.Duration{}}
	if w.wall > 0 {
		w.inFlight = (to.area - from.area) / w.wall.Seconds()
	}
	for k, v := range to.cpu {
		w.cpu[k] = v - from.cpu[k]
	}
	return w
}

// perPod is a process's CPU per pod in µs ("all": every process).
func (w bindWindow) perPod(proc string) float64 {
	if w.pods <= 0 {
		return 0
	}
	if proc != "all" {
		return float64(w.cpu[proc].Microseconds()) / float64(w.pods)
	}
	var sum time.Duration
	for _, v := range w.cpu {
		sum += v
	}
	return float64(sum.Microseconds()) / float64(w.pods)
}

// cores is the machine's cores the processes used in the window: near
// runtime.NumCPU() the row is bound by CPU, well under it by latency.
func (w bindWindow) cores() float64 {
	if w.wall <= 0 {
		return 0
	}
	return w.perPod("all") * float64(w.pods) / 1e6 / w.wall.Seconds()
}

func (w bindWindow) String() string {
	if w.wall <= 0 {
		return "no window"
	}
	parts := make([]string, 0, len(w.cpu))
	for _, k := range slices.Sorted(maps.Keys(w.cpu)) {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, w.perPod(k)))
	}
	return fmt.Sprintf("window %.2f s, %.1f POSTs in flight, %.2f of %d cores, µs/pod: all %.0f (%s)",
		w.wall.Seconds(), w.inFlight, w.cores(), runtime.NumCPU(), w.perPod("all"), strings.Join(parts, ", "))
}
