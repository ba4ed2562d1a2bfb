package raftnode_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/raftnode/rafttest"
	"github.com/hashicorp/raft"
)

// errKeyExists is kvSM's per-command error: keys are written once.
var errKeyExists = errors.New("kv: key exists")

// kvSM is an append-only key/value StateMachine for tests. A command is
// "key=value"; its result is "ok:key".
type kvSM struct {
	mu       sync.Mutex
	data     map[string]string
	restores int
}

func newKV() raftnode.StateMachine { return &kvSM{data: map[string]string{}} }

func (s *kvSM) ApplyCommands(_ uint64, cmds [][]byte) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]any, len(cmds))
	for i, c := range cmds {
		k, v, ok := bytes.Cut(c, []byte("="))
		if !ok {
			out[i] = fmt.Errorf("kv: malformed command %q", c)
			continue
		}
		if _, dup := s.data[string(k)]; dup {
			out[i] = fmt.Errorf("%w: %s", errKeyExists, k)
			continue
		}
		s.data[string(k)] = string(v)
		out[i] = "ok:" + string(k)
	}
	return out
}

func (s *kvSM) Snapshot() (raft.FSMSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(s.data) // map keys sorted: deterministic
	if err != nil {
		return nil, err
	}
	return kvSnapshot(b), nil
}

func (s *kvSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data := map[string]string{}
	if err := json.NewDecoder(rc).Decode(&data); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = data
	s.restores++
	return nil
}

func (s *kvSM) get(k string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[k]
	return v, ok
}

func (s *kvSM) dump() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.data)
}

func (s *kvSM) restoreCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restores
}

type kvSnapshot []byte

func (b kvSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(b); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (kvSnapshot) Release() {}

func kvOf(c *rafttest.Cluster, i int) *kvSM { return c.SM(i).(*kvSM) }

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

func waitLeader(t testing.TB, c *rafttest.Cluster) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	i, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// put writes key=val through the current leader, retrying retryable errors
// (a busy machine may see spurious leader changes). A retry that finds the
// key already holding val counts as success: the earlier attempt committed.
// It returns the log index of the write (0 if an earlier attempt landed).
func put(t testing.TB, c *rafttest.Cluster, key, val string) uint64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		i := waitLeader(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, index, err := c.Node(i).Apply(ctx, []byte(key+"="+val))
		cancel()
		switch {
		case err == nil:
			if res != "ok:"+key {
				t.Fatalf("put %s: result %v", key, res)
			}
			return index
		case errors.Is(err, errKeyExists):
			if v, _ := kvOf(c, i).get(key); v == val {
				return 0
			}
			t.Fatalf("put %s: %v", key, err)
		case !raftnode.Retryable(err) || time.Now().After(deadline):
			t.Fatalf("put %s: %v", key, err)
		}
	}
}

// waitConverged waits until every running replica outside a partition holds
// exactly want.
func waitConverged(t testing.TB, c *rafttest.Cluster, want map[string]string, skip ...int) {
	t.Helper()
	for _, i := range c.Live() {
		if containsInt(skip, i) {
			continue
		}
		waitFor(t, 30*time.Second, fmt.Sprintf("%s to hold %d keys", c.ID(i), len(want)), func() bool {
			return maps.Equal(kvOf(c, i).dump(), want)
		})
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
