package raftnode_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/raftnode/rafttest"
	"github.com/hashicorp/raft"
)

func TestConcurrentWritersShareLogEntries(t *testing.T) {
	// A spurious leader change on a starved machine splits the run across
	// leaders; the run is then repeated on a fresh cluster, never skipped.
	for attempt := 1; attempt <= 3; attempt++ {
		if !concurrentWritersOnce(t) {
			return
		}
		t.Logf("attempt %d: leadership changed during the run; repeating", attempt)
	}
	t.Fatal("leadership changed in 3 runs in a row")
}

// concurrentWritersOnce reports true when the leader changed mid-run.
func concurrentWritersOnce(t *testing.T) (leaderChanged bool) {
	const writers, perWriter = 64, 40
	c := rafttest.New(t, 3, newKV, rafttest.Options{})
	l := waitLeader(t, c)
	leader := c.Node(l)
	firstIndex := leader.CommitIndex()

	var (
		wg      sync.WaitGroup
		maxIdx  atomic.Uint64
		errMu   sync.Mutex
		errs    []error
		indexes sync.Map // log index -> struct{}
	)
	for w := range writers {
		wg.Go(func() {
			for k := range perWriter {
				key := fmt.Sprintf("w%02d-%03d", w, k)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				res, idx, err := leader.Apply(ctx, []byte(key+"=v"))
				cancel()
				if err == nil && res != "ok:"+key {
					err = fmt.Errorf("%s: got result %v", key, res)
				}
				if err != nil {
					errMu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", key, err))
					errMu.Unlock()
					return
				}
				indexes.Store(idx, struct{}{})
				for cur := maxIdx.Load(); idx > cur && !maxIdx.CompareAndSwap(cur, idx); cur = maxIdx.Load() {
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		// A spurious leader change on a starved machine is the only
		// acceptable failure; anything else is a bug.
		for _, err := range errs {
			if !raftnode.Retryable(err) {
				t.Fatalf("writer failed: %v", err)
			}
		}
		t.Logf("leadership changed during the run (%d retryable errors), e.g. %v", len(errs), errs[0])
		return true
	}

	const total = writers * perWriter
	distinct := 0
	indexes.Range(func(_, _ any) bool { distinct++; return true })
	entries, commands := leader.BatchStats()
	t.Logf("%d writes in %d log entries (%d distinct indexes, %.1f commands/entry)",
		total, entries, distinct, float64(commands)/float64(entries))
	if commands != total || entries >= total || distinct >= total {
		t.Errorf("BatchStats = %d entries / %d commands, %d distinct indexes; want fewer entries than %d writes",
			entries, commands, distinct, total)
	}
	if used := maxIdx.Load() - firstIndex; used >= total {
		t.Errorf("writes used %d log indexes, want fewer than %d", used, total)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitApplied(ctx, maxIdx.Load()); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if got := len(kvOf(c, i).dump()); got != total {
			t.Errorf("%s holds %d keys, want %d", c.ID(i), got, total)
		}
	}

	// A per-command error reaches only its caller, with the index of the
	// entry that carried it.
	_, idx, err := leader.Apply(ctx, []byte("w00-000=again"))
	if !errors.Is(err, errKeyExists) || idx == 0 {
		t.Errorf("duplicate key: idx %d, err %v; want errKeyExists with an index", idx, err)
	}
	return false
}

// TestSingleNodeOnTCPTransport runs the production wiring (raft's TCP
// transport, log store with fsync) as a one-node cluster.
func TestSingleNodeOnTCPTransport(t *testing.T) {
	dir := t.TempDir()
	n, err := raftnode.New(raftnode.Config{ID: "solo", BindAddr: "127.0.0.1:0", DataDir: dir}.TestTiming(), newKV(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	if err := n.Bootstrap([]raft.Server{{Suffrage: raft.Voter, ID: n.ID(), Address: n.Addr()}}); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	waitFor(t, 20*time.Second, "single node to lead", n.IsLeader)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, idx, err := n.Apply(ctx, []byte("a=1"))
	if err != nil || res != "ok:a" || idx == 0 {
		t.Fatalf("Apply = %v, %d, %v", res, idx, err)
	}
	if err := n.Bootstrap([]raft.Server{{ID: "other", Address: "127.0.0.1:1"}}); !errors.Is(err, raftnode.ErrExistingState) {
		t.Errorf("second Bootstrap: %v, want ErrExistingState", err)
	}
	if got := n.Stats()["fsm_applied_index"]; got != strconv.FormatUint(n.AppliedIndex(), 10) || n.AppliedIndex() < idx {
		t.Errorf("fsm_applied_index = %s, AppliedIndex %d, write at %d", got, n.AppliedIndex(), idx)
	}

	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.Apply(ctx, []byte("b=2")); !errors.Is(err, raftnode.ErrShutdown) {
		t.Fatalf("Apply after Shutdown: %v, want ErrShutdown", err)
	}
	if err := n.Shutdown(); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// BenchmarkApply3Replicas measures Apply throughput on the leader of a
// 3-replica cluster with fsync on and 64 concurrent clients writing ~200-byte
// commands. With fsync on, one commit costs a leader fsync plus a follower
// fsync, so the ceiling is about 64 / (2 × fsync latency).
func BenchmarkApply3Replicas(b *testing.B) { benchmarkApply(b, false) }

// BenchmarkApply3ReplicasNoSync is the same without fsync: the CPU-bound
// figure.
func BenchmarkApply3ReplicasNoSync(b *testing.B) { benchmarkApply(b, true) }

func benchmarkApply(b *testing.B, noSync bool) {
	const clients = 64
	c := rafttest.New(b, 3, newKV, rafttest.Options{NoSync: noSync})
	leader := c.Node(waitLeader(b, c))
	var seq atomic.Uint64
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((clients + procs - 1) / procs) // goroutines = parallelism × GOMAXPROCS
	b.ResetTimer()
	cpu0 := processCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		buf := make([]byte, 0, 200)
		for pb.Next() {
			buf = strconv.AppendUint(buf[:0], seq.Add(1), 10)
			buf = append(buf, '=')
			buf = append(buf, payload200[:180]...)
			if _, _, err := leader.Apply(ctx, buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	// The process's CPU (the three replicas and the clients) per command:
	// on a shared machine steadier than the time per command.
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	entries, commands := leader.BatchStats()
	if entries > 0 {
		b.ReportMetric(float64(commands)/float64(entries), "cmds/entry")
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var payload200 = func() []byte {
	p := make([]byte, 200)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return p
}()
