package hub_test

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
)

// BenchmarkSubmitHTTP3Replicas measures job submissions through the HTTP
// API of three replicas (fsync on) by 64 concurrent clients, each with the
// three URLs, starting on different replicas. "leader" clients follow the
// leader hint of the first reply and then submit to the leader; "spread"
// clients stay where they started, so followers forward two thirds of the
// submissions. It reports submissions per second, the 50th and 99th
// percentile latencies, raft commands per log entry, the process's CPU
// time per submission (all replicas and clients share the process), its
// minor page faults per submission and the collections of the run.
//
// Environment knobs for experiments: BENCH_NOSYNC=1 turns fsync off;
// BENCH_LINGER, BENCH_BATCH and BENCH_MAXAPPEND set raftnode's
// BatchLinger, BatchSize and MaxAppendEntries.
func BenchmarkSubmitHTTP3Replicas(b *testing.B) {
	b.Run("leader", func(b *testing.B) { benchSubmit(b) })
	b.Run("spread", func(b *testing.B) { benchSubmit(b, client.WithoutLeaderPreference()) })
}

func benchSubmit(b *testing.B, opts ...client.Option) {
	const workers = 64
	c := hubtest.New(b, 3, hubtest.Options{NoSync: os.Getenv("BENCH_NOSYNC") != "", Configure: benchKnobs})
	f := seed(b, c)
	clients := make([]*client.Client, workers)
	for w := range clients {
		// spreadClient stays put unless told otherwise; the last option wins.
		clients[w] = spreadClient(b, c, f.Key, w, append([]client.Option{client.WithLeaderPreference()}, opts...)...)
	}
	ctx := ctxFor(b, 10*time.Minute)
	// Warm up connections and the leader's first-term barrier.
	for w, cl := range clients {
		if _, err := cl.SubmitJob(ctx, f.job(fmt.Sprintf("warm-%d", w))); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	lat := make([][]time.Duration, workers)
	var failures atomic.Int64
	debug.FreeOSMemory() // every run starts from a collected heap, as flotilla-bench's rows do
	b.ResetTimer()
	var gc0 runtime.MemStats
	runtime.ReadMemStats(&gc0)
	faults0 := minorFaults()
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := next.Add(1) - 1
				if k >= int64(b.N) {
					return
				}
				t0 := time.Now()
				if _, err := clients[w].SubmitJob(ctx, f.job(fmt.Sprintf("bench-%d", k))); err != nil {
					failures.Add(1)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	faults := minorFaults() - faults0
	var gc1 runtime.MemStats
	runtime.ReadMemStats(&gc1)
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d submissions failed", n)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "submits/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
	// CPU time of the whole process (3 replicas and 64 clients) per
	// submission: the throughput the cores could carry, whatever else the
	// machine was running.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	// Minor page faults (first touches of new heap pages) per submission
	// and the collections of the run: with CPU, what the heap's growth
	// costs (docs/performance.md, "Why the scale row ran faster").
	b.ReportMetric(float64(faults)/float64(b.N), "faults/op")
	b.ReportMetric(float64(gc1.NumGC-gc0.NumGC), "gcs")
	var entries, commands uint64
	for _, i := range c.Live() {
		e, n := c.Hub(i).Node().BatchStats()
		entries, commands = entries+e, commands+n
	}
	b.ReportMetric(float64(commands)/float64(max(entries, 1)), "cmds/entry")

}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// minorFaults is the process's minor page faults so far.
func minorFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Minflt
}

// benchKnobs applies the BENCH_* environment knobs to a replica's Config.
func benchKnobs(_ int, cfg *hub.Config) {
	if v, err := time.ParseDuration(os.Getenv("BENCH_LINGER")); err == nil {
		cfg.Raft.BatchLinger = v
	}
	if v, err := strconv.Atoi(os.Getenv("BENCH_BATCH")); err == nil {
		cfg.Raft.BatchSize = v
	}
	if v, err := strconv.Atoi(os.Getenv("BENCH_MAXAPPEND")); err == nil {
		cfg.Raft.MaxAppendEntries = v
	}
}
