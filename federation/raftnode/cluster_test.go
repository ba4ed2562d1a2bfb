package raftnode_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/raftnode/rafttest"
)

func TestReplicasElectAndReplicate(t *testing.T) {
	for _, n := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("%d replicas", n), func(t *testing.T) {
			c := rafttest.New(t, n, newKV, rafttest.Options{})
			want := map[string]string{}
			var last uint64
			for k := range 20 {
				key, val := fmt.Sprintf("k%02d", k), fmt.Sprintf("v%d", k)
				if idx := put(t, c, key, val); idx > last {
					last = idx
				}
				want[key] = val
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.WaitApplied(ctx, last); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if got := kvOf(c, i).dump(); !maps.Equal(got, want) {
					t.Errorf("%s holds %v, want %v", c.ID(i), got, want)
				}
			}

			// A linearizable read on the leader sees every acknowledged write.
			l := waitLeader(t, c)
			idx, err := c.Node(l).ReadBarrier(ctx)
			if err != nil {
				t.Fatalf("ReadBarrier: %v", err)
			}
			if idx < last || c.Node(l).AppliedIndex() < idx {
				t.Errorf("ReadBarrier = %d, applied %d, last write %d", idx, c.Node(l).AppliedIndex(), last)
			}
		})
	}
}

func TestFollowerWriteReturnsNotLeader(t *testing.T) {
	c := rafttest.New(t, 3, newKV, rafttest.Options{})
	l := waitLeader(t, c)
	put(t, c, "a", "1") // every follower has heard from the leader by now
	f := (l + 1) % 3
	follower := c.Node(f)
	waitFor(t, 10*time.Second, "follower to know the leader", func() bool {
		id, _ := follower.Leader()
		return id == c.ID(l)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := follower.Apply(ctx, []byte("b=2"))
	var nle *raftnode.NotLeaderError
	if !errors.Is(err, raftnode.ErrNotLeader) || !errors.As(err, &nle) {
		t.Fatalf("follower Apply error = %v, want a *NotLeaderError", err)
	}
	if nle.LeaderID != c.ID(l) || nle.LeaderAddr != c.Node(l).Addr() || nle.LeaderAPI != rafttest.APIAddress(c.ID(l)) {
		t.Errorf("NotLeaderError = %+v, want leader %s at %s", nle, c.ID(l), c.Node(l).Addr())
	}
	if !raftnode.Retryable(err) {
		t.Errorf("Retryable(%v) = false", err)
	}
	if api, ok := follower.LeaderAPIAddress(); !ok || api != rafttest.APIAddress(c.ID(l)) {
		t.Errorf("LeaderAPIAddress = %q, %v", api, ok)
	}
	follower.SetPeerAPI(c.ID(l), "https://leader.example:8443")
	if api, _ := follower.LeaderAPIAddress(); api != "https://leader.example:8443" {
		t.Errorf("LeaderAPIAddress after SetPeerAPI = %q", api)
	}
	if _, err := follower.ReadBarrier(ctx); !errors.Is(err, raftnode.ErrNotLeader) {
		t.Errorf("follower ReadBarrier error = %v, want ErrNotLeader", err)
	}
	if err := follower.Join("x", "127.0.0.1:1"); !errors.Is(err, raftnode.ErrNotLeader) {
		t.Errorf("follower Join error = %v, want ErrNotLeader", err)
	}
	if _, ok := kvOf(c, f).get("b"); ok {
		t.Error("refused write was applied")
	}
}

func TestLeaderKillKeepsAcknowledgedWrites(t *testing.T) {
	c := rafttest.New(t, 3, newKV, rafttest.Options{})
	want := map[string]string{}
	for k := range 30 {
		key := fmt.Sprintf("before%02d", k)
		put(t, c, key, "x")
		want[key] = "x"
	}
	old := waitLeader(t, c)
	watcher := c.Node((old + 1) % 3)
	events, cancel := watcher.WatchLeadership()
	defer cancel()

	c.Kill(old)
	newLeader := waitLeader(t, c)
	if newLeader == old {
		t.Fatalf("killed node %d is still leader", old)
	}
	// The watcher on a survivor reports the new leader.
	deadline := time.After(30 * time.Second)
	for ev := range events {
		if ev.LeaderID == c.ID(newLeader) {
			if ev.IsLocal != (watcher.ID() == c.ID(newLeader)) {
				t.Errorf("event %+v: IsLocal wrong for watcher %s", ev, watcher.ID())
			}
			break
		}
		select {
		case <-deadline:
			t.Fatal("no leadership event naming the new leader")
		default:
		}
	}

	var last uint64
	for k := range 30 {
		key := fmt.Sprintf("after%02d", k)
		last = max(last, put(t, c, key, "y"))
		want[key] = "y"
	}
	waitConverged(t, c, want)

	// The new leader serves linearizable reads (its first ReadBarrier
	// commits a barrier of its own term).
	ctx, cancelRead := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelRead()
	l := waitLeader(t, c)
	if idx, err := c.Node(l).ReadBarrier(ctx); err != nil || idx < last {
		t.Errorf("ReadBarrier on new leader = %d, %v; last write at %d", idx, err, last)
	}

	// The old leader comes back and catches up.
	c.Restart(old)
	waitConverged(t, c, want)
}

func TestPartitionedMinorityRefusesWrites(t *testing.T) {
	c := rafttest.New(t, 3, newKV, rafttest.Options{})
	want := map[string]string{}
	for k := range 10 {
		key := fmt.Sprintf("pre%02d", k)
		put(t, c, key, "x")
		want[key] = "x"
	}
	old := waitLeader(t, c)
	c.Partition(old)

	// The cut-off leader cannot commit: it errors (after stepping down)
	// or times out, and never acknowledges.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	res, idx, err := c.Node(old).Apply(ctx, []byte("lost=1"))
	cancel()
	if err == nil {
		t.Fatalf("partitioned leader acknowledged a write: %v at %d", res, idx)
	}
	t.Logf("partitioned leader refused the write: %v", err)
	waitFor(t, 10*time.Second, "partitioned leader to step down", func() bool {
		return !c.Node(old).IsLeader()
	})
	if _, _, err := c.Node(old).Apply(context.Background(), []byte("lost=2")); !errors.Is(err, raftnode.ErrNotLeader) {
		t.Errorf("write to stepped-down node: %v, want ErrNotLeader", err)
	}

	// The majority elects a leader and keeps accepting writes.
	for k := range 10 {
		key := fmt.Sprintf("during%02d", k)
		put(t, c, key, "y")
		want[key] = "y"
	}
	if l := waitLeader(t, c); l == old {
		t.Fatal("partitioned node is leader")
	}
	if got := kvOf(c, old).dump(); len(got) != 10 {
		t.Errorf("partitioned node applied %d keys, want 10", len(got))
	}

	c.Heal()
	waitConverged(t, c, want) // includes the healed node; "lost" is absent

	// A cut-off follower refuses writes too, and catches up after healing.
	l := waitLeader(t, c)
	f := (l + 1) % 3
	c.Partition(f)
	if _, _, err := c.Node(f).Apply(context.Background(), []byte("lost=3")); !errors.Is(err, raftnode.ErrNotLeader) {
		t.Errorf("write to cut-off follower: %v, want ErrNotLeader", err)
	}
	for k := range 5 {
		key := fmt.Sprintf("follower-cut%02d", k)
		put(t, c, key, "z")
		want[key] = "z"
	}
	c.Heal()
	waitConverged(t, c, want)
}

// TestRestartAllFromDisk restarts every replica from its data directory,
// once on each log store.
func TestRestartAllFromDisk(t *testing.T) {
	for _, kind := range []string{raftnode.LogStoreWAL, raftnode.LogStoreBolt} {
		t.Run(kind, func(t *testing.T) { testRestartAllFromDisk(t, kind) })
	}
}

func testRestartAllFromDisk(t *testing.T, kind string) {
	c := rafttest.New(t, 3, newKV, rafttest.Options{
		Configure: func(cfg *raftnode.Config) {
			cfg.LogStore = kind
			cfg.TrailingLogs = 10 // compact the log hard after a snapshot
		},
	})
	for i := range 3 {
		if got := c.Node(i).LogStore(); got != kind {
			t.Fatalf("%s runs on %q, want %q", c.ID(i), got, kind)
		}
	}
	want := map[string]string{}
	for k := range 60 {
		key := fmt.Sprintf("snap%02d", k)
		put(t, c, key, "s")
		want[key] = "s"
	}
	waitConverged(t, c, want)
	for i := range 3 {
		if err := c.Node(i).Snapshot(); err != nil {
			t.Fatalf("snapshot %s: %v", c.ID(i), err)
		}
	}
	for k := range 20 {
		key := fmt.Sprintf("log%02d", k)
		put(t, c, key, "l")
		want[key] = "l"
	}
	waitConverged(t, c, want)

	for i := range 3 {
		c.Kill(i)
	}
	for i := range 3 {
		c.Restart(i)
	}
	for i := range 3 {
		if kvOf(c, i).restoreCount() == 0 || c.Node(i).AppliedIndex() == 0 {
			t.Errorf("%s did not restore a snapshot at start (applied index %d)", c.ID(i), c.Node(i).AppliedIndex())
		}
	}
	waitConverged(t, c, want) // snapshot + log replay once a leader commits
	put(t, c, "after", "restart")
	want["after"] = "restart"
	waitConverged(t, c, want)
}

func TestJoinAndRemoveFourthNode(t *testing.T) {
	c := rafttest.New(t, 3, newKV, rafttest.Options{})
	want := map[string]string{"a": "1", "b": "2"}
	put(t, c, "a", "1")
	put(t, c, "b", "2")

	n4 := c.AddNode()
	l := waitLeader(t, c)
	if err := c.Node(l).Join(c.ID(n4), c.Node(n4).Addr()); err != nil {
		t.Fatalf("Join: %v", err)
	}
	if api, ok := c.Node(l).PeerAPIs()[c.ID(n4)]; !ok || api != rafttest.APIAddress(c.ID(n4)) {
		t.Errorf("leader's API address for the new node = %q, %v", api, ok)
	}
	put(t, c, "c", "3")
	want["c"] = "3"
	waitConverged(t, c, want)
	servers, err := c.Node(waitLeader(t, c)).Servers()
	if err != nil || len(servers) != 4 {
		t.Fatalf("Servers = %v, %v; want 4", servers, err)
	}

	// Remove the new node; if it became leader it removes itself and steps down.
	l = waitLeader(t, c)
	if err := c.Node(l).Remove(c.ID(n4)); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	servers, err = c.Node(waitLeader(t, c)).Servers()
	if err != nil || len(servers) != 3 {
		t.Fatalf("Servers after Remove = %v, %v; want 3", servers, err)
	}
	put(t, c, "d", "4")
	want["d"] = "4"
	waitConverged(t, c, want, n4)
	if _, ok := kvOf(c, n4).get("d"); ok {
		t.Error("removed node still receives writes")
	}
}
