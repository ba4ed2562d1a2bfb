package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// processesCPU is the CPU every process of the table used so far: the
// control plane's by name, the benchmark process as "bench".
func processesCPU(env *k8senv.Env) map[string]time.Duration {
	out := map[string]time.Duration{"bench": processCPU()}
	for name, pid := range env.PIDs() {
		out[name] = childCPU(pid)
	}
	return out
}

// idleCPU is what each process of the control plane costs per second
// with nothing running (the nodes ready, no pods): kwok's node leases,
// the controller manager's and the API server's own periodic work. A row
// is charged this for its whole stretch, so a slower row carries more of
// it per pod; the per-second view shows each row's figures without it.
var idleCPU map[string]float64

// measureIdle fills idleCPU over d with nothing running and returns it
// as a line for stderr.
func measureIdle(ctx context.Context, env *k8senv.Env, d time.Duration) string {
	before, t0 := processesCPU(env), time.Now()
	select {
	case <-ctx.Done():
		return ""
	case <-time.After(d):
	}
	after, wall := processesCPU(env), time.Since(t0).Seconds()
	idleCPU = map[string]float64{}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(after)) {
		idleCPU[name] = (after[name] - before[name]).Seconds() / wall
		parts = append(parts, fmt.Sprintf("%s %.1f%%", name, 100*idleCPU[name]))
	}
	return fmt.Sprintf("bench: idle control plane over %s (%% of a core): %s", d, strings.Join(parts, ", "))
}

// perSecond shows a stretch per process: CPU per pod, the same without
// the process's idle cost for the stretch's length, and the share of a
// core it used; then how busy the machine's cores were in the stretch
// (sum over processes / wall / cores): well under 1 means the row was
// bound by latency, not CPU.
func (u usage) perSecond() string {
	if u.wall <= 0 || u.pods <= 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  stretch %.2f s, per process: µs/pod (without idle) cores", u.wall.Seconds())
	var total, totalNet float64
	for _, name := range slices.Sorted(maps.Keys(u.procs)) {
		d := u.procs[name].Seconds()
		net := d - idleCPU[name]*u.wall.Seconds()
		total += d
		totalNet += net
		fmt.Fprintf(&b, "\n    %-24s %8.0f (%8.0f) %5.2f", name, 1e6*d/float64(u.pods), 1e6*net/float64(u.pods), d/u.wall.Seconds())
	}
	fmt.Fprintf(&b, "\n    %-24s %8.0f (%8.0f) %5.2f of %d cores", "all", 1e6*total/float64(u.pods), 1e6*totalNet/float64(u.pods),
		total/u.wall.Seconds(), runtime.NumCPU())
	return b.String()
}

// inFlight is the number of the table's POST requests waiting for their
// reply, integrated over time: area / wall between two reads is the
// average in flight (Little's law: rate = in flight / latency).
var inFlight struct {
	mu   sync.Mutex
	n    int
	last time.Time
	area float64 // request-seconds
}

func inFlightChange(d int) {
	inFlight.mu.Lock()
	now := time.Now()
	if !inFlight.last.IsZero() {
		inFlight.area += float64(inFlight.n) * now.Sub(inFlight.last).Seconds()
	}
	inFlight.n += d
	inFlight.last = now
	inFlight.mu.Unlock()
}

// inFlightArea is the request-seconds of POSTs so far.
func inFlightArea() float64 {
	inFlightChange(0)
	inFlight.mu.Lock()
	defer inFlight.mu.Unlock()
	return inFlight.area
}

// countPosts wraps the table's transport to count POSTs in flight.
type countPosts struct{ next http.RoundTripper }

func (c countPosts) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost {
		return c.next.RoundTrip(r)
	}
	inFlightChange(1)
	defer inFlightChange(-1)
	return c.next.RoundTrip(r)
}
