package raftnode_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/raftnode/rafttest"
)

// gatedKV is kvSM whose commands starting with "slow" wait until the test
// opens the gate: committed, not yet applied, as on a stalled disk.
type gatedKV struct {
	*kvSM
	mu   sync.Mutex
	gate chan struct{}
}

func (g *gatedKV) ApplyCommands(index uint64, cmds [][]byte) []any {
	for _, c := range cmds {
		if bytes.HasPrefix(c, []byte("slow")) {
			g.mu.Lock()
			gate := g.gate
			g.mu.Unlock()
			<-gate
		}
	}
	return g.kvSM.ApplyCommands(index, cmds)
}

// close opens the gate; shut makes a new closed one.
func (g *gatedKV) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.gate)
}

func (g *gatedKV) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
}

// TestApplyByDeadline: a write that cannot be applied by its deadline
// returns ErrDeadline (a context.DeadlineExceeded, as a timed-out
// context's error was) and may still be applied afterwards; a cancelled
// context still stops the wait at once, whatever the deadline; and the
// deadlines leave no goroutine behind.
func TestApplyByDeadline(t *testing.T) {
	g := &gatedKV{kvSM: newKV().(*kvSM), gate: make(chan struct{})}
	c := rafttest.New(t, 1, func() raftnode.StateMachine { return g }, rafttest.Options{})
	n := c.Node(waitLeader(t, c))
	ctx := context.Background()

	// Committed but not applied in time: the deadline's error.
	start := time.Now()
	_, _, err := n.ApplyBy(ctx, []byte("slow1=a"), start.Add(150*time.Millisecond))
	if !errors.Is(err, raftnode.ErrDeadline) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ApplyBy past its deadline = %v, want ErrDeadline", err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("ApplyBy gave up after %v, before its deadline", waited)
	}
	g.open() // the entry was handed over: it is applied anyway
	waitFor(t, 10*time.Second, "the timed-out command applied", func() bool {
		v, ok := g.get("slow1")
		return ok && v == "a"
	})

	// A deadline already passed writes nothing.
	if _, _, err := n.ApplyBy(ctx, []byte("late=x"), time.Now().Add(-time.Second)); !errors.Is(err, raftnode.ErrDeadline) {
		t.Errorf("ApplyBy with a passed deadline = %v", err)
	}
	if _, ok := g.get("late"); ok {
		t.Errorf("a command whose deadline had passed was written")
	}

	// A cancelled caller stops at once, long before its deadline.
	g.shut()
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, _, err := n.ApplyBy(cctx, []byte("slow2=b"), time.Now().Add(time.Hour))
		errc <- err
	}()
	waitFor(t, 10*time.Second, "the write handed over", func() bool { return n.CommitIndex() > n.AppliedIndex() })
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled ApplyBy = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a cancelled ApplyBy kept waiting")
	}
	g.open()

	// Many writes with deadlines leave no goroutine (nor, see
	// TestDeadlineClockLeavesNoSlot, timer) behind.
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for k := range 20 {
				key := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(k)
				if _, _, err := n.ApplyBy(ctx, []byte(key+"=v"), time.Now().Add(time.Minute)); err != nil {
					t.Errorf("%s: %v", key, err)
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, 10*time.Second, "goroutines back to their number", func() bool {
		return runtime.NumGoroutine() <= before
	})
}
