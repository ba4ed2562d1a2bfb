package raftnode_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/raftnode/rafttest"
	"github.com/hashicorp/raft"
)

// okSM answers every command with a constant and allocates nothing but
// its result list, so that a test counts raft's and the node's
// allocations.
type okSM struct{}

func (okSM) ApplyCommands(_ uint64, cmds [][]byte) []any {
	out := make([]any, len(cmds))
	for i := range out {
		out[i] = "ok"
	}
	return out
}

func (okSM) Snapshot() (raft.FSMSnapshot, error) { return kvSnapshot("{}"), nil }
func (okSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

// TestApplyAllocatesPerEntryNotPerCommand: what the node allocates to
// carry a command through a batch is paid per log entry, not per
// command. 64 callers write 50 commands each into entries of exactly 64
// (BatchSize 64, a linger far longer than the run, one command in flight
// per caller); the whole process's allocations, raft's per entry
// included, stay under one per command. A request, a result channel and
// its buffer for every command (the node before batch-level answers)
// are three.
func TestApplyAllocatesPerEntryNotPerCommand(t *testing.T) {
	const callers, each = 64, 50
	c := rafttest.New(t, 1, func() raftnode.StateMachine { return okSM{} }, rafttest.Options{
		InMemory: true,
		Configure: func(cfg *raftnode.Config) {
			cfg.BatchSize = callers
			cfg.BatchLinger = time.Hour
		},
	})
	n := c.Node(waitLeader(t, c))
	run := func(rounds int) {
		var wg sync.WaitGroup
		ctx := context.Background()
		cmd := []byte("k=v")
		for range callers {
			wg.Go(func() {
				for range rounds {
					if res, _, err := n.Apply(ctx, cmd); err != nil || res != "ok" {
						t.Errorf("Apply = %v, %v", res, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	run(2) // warm-up: the goroutines' stacks, raft's first entries
	entries0, commands0 := n.BatchStats()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	run(each)
	runtime.ReadMemStats(&after)
	entries, commands := n.BatchStats()
	entries -= entries0
	commands -= commands0
	if commands != callers*each || entries != each {
		t.Fatalf("%d commands in %d entries, want %d in %d", commands, entries, callers*each, each)
	}
	perCommand := float64(after.Mallocs-before.Mallocs) / float64(commands)
	t.Logf("%.2f allocations per command (%d in %d entries of %d)", perCommand, after.Mallocs-before.Mallocs, entries, callers)
	if perCommand >= 1 {
		t.Errorf("%.2f allocations per command, want fewer than one (paid per entry)", perCommand)
	}
}

// TestGroupCommitWhileAnEntryWaits: while an entry waits for its
// commit (MaxInflight 1; the state machine held back, so its future
// stays open), the commands that arrive share entries of MaxBatch (not
// BatchSize), and a batch that reaches MaxBatch goes at once instead of
// waiting for the slot. Every caller gets its own result with its
// entry's index.
func TestGroupCommitWhileAnEntryWaits(t *testing.T) {
	const batchSize, maxBatch, callers = 4, 8, 16
	g := &gatedKV{kvSM: newKV().(*kvSM), gate: make(chan struct{})}
	c := rafttest.New(t, 1, func() raftnode.StateMachine { return g }, rafttest.Options{
		Configure: func(cfg *raftnode.Config) {
			cfg.BatchSize = batchSize
			cfg.MaxBatch = maxBatch
			cfg.MaxInflight = 1
		},
	})
	n := c.Node(waitLeader(t, c))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	type outcome struct {
		key   string
		res   any
		index uint64
		err   error
	}
	results := make(chan outcome, callers+1)
	apply := func(key string) {
		res, index, err := n.Apply(ctx, []byte(key+"=v"))
		results <- outcome{key, res, index, err}
	}
	_, base, err := n.Apply(ctx, []byte("warm=v"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "everything applied", func() bool { return n.AppliedIndex() == n.CommitIndex() })
	base = max(base, n.CommitIndex())
	go apply("slow0") // in flight, held by the gate
	first := base + 1
	waitFor(t, 10*time.Second, "the first entry committed", func() bool { return n.CommitIndex() >= first })
	for i := range callers {
		go apply("w" + strconv.Itoa(i))
	}
	// Two full batches go while the first entry still waits.
	waitFor(t, 20*time.Second, "two full batches committed", func() bool { return n.CommitIndex() >= first+2 })
	g.open()

	perIndex := map[uint64]int{}
	for range callers + 1 {
		o := <-results
		want := "ok:" + o.key
		if o.err != nil || o.res != want {
			t.Errorf("%s: %v, %v; want %s", o.key, o.res, o.err, want)
		}
		if o.key == "slow0" {
			if o.index != first {
				t.Errorf("slow0 at index %d, want %d", o.index, first)
			}
			continue
		}
		perIndex[o.index]++
	}
	want := map[uint64]int{first + 1: maxBatch, first + 2: maxBatch}
	if fmt.Sprint(perIndex) != fmt.Sprint(want) {
		t.Errorf("commands per entry index %v, want %v", perIndex, want)
	}
}
