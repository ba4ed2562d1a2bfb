package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"syscall"
	"time"
)

// hubProfileDir, when set (-hub-profile), receives a CPU profile of the
// submissions of each in-process hub row (<row>.cpu.prof), the phase the
// row's figures measure and nothing else, and the process's allocation
// profile at the phase's start and end (<row>.allocs.base.prof and
// <row>.allocs.prof: `go tool pprof -base <row>.allocs.base.prof
// <row>.allocs.prof` shows the phase's allocations alone).
var hubProfileDir string

// hubProfileMemRate is the allocation sampling rate (runtime.MemProfileRate)
// with -hub-profile: one sample per 64 KB allocated gives about ten
// thousand samples over a row of 20,000 submissions (the default, 512 KB,
// gives about 1,200).
const hubProfileMemRate = 64 << 10

// phase measures one row's submissions in this process: CPU time (user
// and system apart), heap allocations, bytes and garbage collections.
type phase struct {
	name                  string
	user, sys             time.Duration
	allocs, bytes, cycles uint64
	faults                int64
	live                  uint64 // heap live bytes at the start (just collected)
	profile               *os.File
}

// startPhase starts measuring (and profiling, with -hub-profile) the row
// called name. It first collects garbage and returns every free page of
// the heap to the operating system (debug.FreeOSMemory), so that every row
// starts from the same condition: the heap holds what is live and no
// mapped free memory. Without it a row's CPU per submission followed the
// process's history: the scale row, after the GBs of garbage of its fill
// and restore, ran its submissions with no collection and no page faults
// (0.2 a submission) while the empty hub before it grew its heap from a
// few MB, faulting in fresh pages (8 a submission) and collecting 5 times:
// 342 against 500 µs of CPU per submission for the same work
// (docs/performance.md, "Why the scale row ran faster").
func startPhase(name string) *phase {
	debug.FreeOSMemory()
	p := &phase{name: name}
	if hubProfileDir != "" {
		if err := os.MkdirAll(hubProfileDir, 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "bench: no profiles of %s: %v\n", name, err)
		}
		writeAllocsProfile(filepath.Join(hubProfileDir, name+".allocs.base.prof"))
		f, err := os.Create(filepath.Join(hubProfileDir, name+".cpu.prof"))
		if err == nil && pprof.StartCPUProfile(f) == nil {
			p.profile = f
		} else {
			fmt.Fprintf(os.Stderr, "bench: no CPU profile of %s: %v\n", name, err)
			if f != nil {
				f.Close()
			}
		}
	}
	p.user, p.sys, p.faults = cpuSplit()
	p.allocs, p.bytes, p.cycles = heapCounters()
	p.live = heapSizes().live
	return p
}

// phaseFigures is what a phase measured per submission.
type phaseFigures struct {
	cpu, user, sys time.Duration
	allocs, kbytes float64
	gcCycles       uint64
	faults         float64 // minor page faults per submission
	start, end     heapState
	collected      uint64 // live heap bytes after a collection at the end
}

// heapState is the heap's sizes: live bytes (marked by the last
// collection), the heap goal, the heap's memory given back to the
// operating system, and the process's resident set.
type heapState struct {
	live, goal, released, rss uint64
}

// heapSizes reads the heap's sizes now.
func heapSizes() heapState {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/goal:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	h := heapState{live: s[0].Value.Uint64(), goal: s[1].Value.Uint64(), released: s[2].Value.Uint64()}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		var size, res uint64
		if _, err := fmt.Sscan(string(b), &size, &res); err == nil {
			h.rss = res * uint64(os.Getpagesize())
		}
	}
	return h
}

func (h heapState) String() string {
	const mb = 1 << 20
	return fmt.Sprintf("live %.1f MB, goal %.1f MB, released %.1f MB, RSS %.1f MB",
		float64(h.live)/mb, float64(h.goal)/mb, float64(h.released)/mb, float64(h.rss)/mb)
}

// stop ends the phase of n submissions and returns its figures per
// submission.
func (p *phase) stop(n int) phaseFigures {
	user, sys, faults := cpuSplit()
	allocs, bytes, cycles := heapCounters()
	end := heapSizes()
	if p.profile != nil {
		pprof.StopCPUProfile()
		p.profile.Close()
	}
	if hubProfileDir != "" {
		writeAllocsProfile(filepath.Join(hubProfileDir, p.name+".allocs.prof"))
	}
	d := time.Duration(max(n, 1))
	// Collected after the figures are taken: the live heap the phase
	// left (the marked bytes of the last collection lag behind it).
	runtime.GC()
	return phaseFigures{
		cpu: (user + sys - p.user - p.sys) / d, user: (user - p.user) / d, sys: (sys - p.sys) / d,
		allocs: float64(allocs-p.allocs) / float64(max(n, 1)), kbytes: float64(bytes-p.bytes) / 1024 / float64(max(n, 1)),
		gcCycles: cycles - p.cycles, faults: float64(faults-p.faults) / float64(max(n, 1)),
		start: heapState{live: p.live}, end: end, collected: heapSizes().live,
	}
}

func (f phaseFigures) String() string {
	return fmt.Sprintf("%v CPU (user %v, system %v), %.0f allocations, %.1f KB allocated, %.1f page faults per submission (replicas and clients), %d GC cycles; heap live %.1f MB at the start, at the end %v, live after a collection %.1f MB",
		f.cpu.Round(time.Microsecond), f.user.Round(time.Microsecond), f.sys.Round(time.Microsecond), f.allocs, f.kbytes, f.faults, f.gcCycles,
		float64(f.start.live)/(1<<20), f.end, float64(f.collected)/(1<<20))
}

// cpuSplit is this process's user and system CPU time and its minor
// page faults so far.
func cpuSplit() (user, sys time.Duration, faults int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), ru.Minflt
}

// heapCounters are the heap objects and bytes this process allocated and
// the garbage collections it completed so far.
func heapCounters() (allocs, bytes, cycles uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64()
}
