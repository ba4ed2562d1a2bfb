package raftnode_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/raftnode/rafttest"
)

// sharedKV is kvSM as a SharedApplier: its results are shared values
// whose Detach counts the copies made.
type sharedKV struct {
	*kvSM
	detached atomic.Int64
}

// sharedVal is a result shared with sharedKV's state.
type sharedVal struct {
	s *sharedKV
	v string
}

func (v sharedVal) Detach() any {
	v.s.detached.Add(1)
	return "detached:" + v.v
}

func (s *sharedKV) ApplyShared(index uint64, cmds [][]byte) []any {
	out := s.kvSM.ApplyCommands(index, cmds)
	for i, r := range out {
		if v, ok := r.(string); ok {
			out[i] = sharedVal{s: s, v: v}
		}
	}
	return out
}

// TestSharedResultsDetachedOnlyForCallers: with a SharedApplier, the
// node applies entries with ApplyShared and hands the caller that waits
// for a result Detach's value; the followers, where no one waits, never
// detach; an error result stays the error.
func TestSharedResultsDetachedOnlyForCallers(t *testing.T) {
	c := rafttest.New(t, 3, func() raftnode.StateMachine {
		return &sharedKV{kvSM: newKV().(*kvSM)}
	}, rafttest.Options{})
	l := waitLeader(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const writes = 5
	for i := range writes {
		key := string(rune('a' + i))
		res, _, err := c.Node(l).Apply(ctx, []byte(key+"=v"))
		if err != nil {
			t.Fatal(err)
		}
		if res != "detached:ok:"+key {
			t.Fatalf("write %s: result %#v, want the detached value", key, res)
		}
	}
	if _, _, err := c.Node(l).Apply(ctx, []byte("a=again")); err == nil {
		t.Fatal("a duplicate key applied")
	}
	leaderSM := c.SM(l).(*sharedKV)
	for i := range 3 {
		sm := c.SM(i).(*sharedKV)
		for {
			if _, ok := sm.get("e"); ok {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("replica %d never applied the writes", i)
			case <-time.After(10 * time.Millisecond):
			}
		}
		want := int64(0)
		if sm == leaderSM {
			want = writes
		}
		if got := sm.detached.Load(); got != want {
			t.Errorf("replica %d (leader %v): %d results detached, want %d", i, i == l, got, want)
		}
	}
}
