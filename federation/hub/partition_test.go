package hub_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestHubPartitionedMinorityRefusesWrites cuts one replica off (first the
// leader, then a follower): writes through it fail within the write
// timeout and never appear, while the majority keeps accepting writes;
// after healing, the cut-off replica catches up.
func TestHubPartitionedMinorityRefusesWrites(t *testing.T) {
	c := hubtest.New(t, 3, hubtest.Options{Configure: func(_ int, cfg *hub.Config) {
		cfg.WriteTimeout = 1500 * time.Millisecond
	}})
	f := seed(t, c)
	ctx := ctxFor(t, 90*time.Second)
	for round, pick := range []string{"leader", "follower"} {
		l, err := c.WaitLeader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cut := l
		if pick == "follower" {
			cut = (l + 1) % c.N()
		}
		c.Partition(cut)
		minority := newClient(t, c, f.Key, cut)
		refused := fmt.Sprintf("refused-%d", round)
		_, err = minority.SubmitJob(ctxFor(t, 4*time.Second), f.job(refused))
		if err == nil {
			t.Errorf("%s cut off: a write through it succeeded", pick)
		} else if s := client.StatusOf(err); s != 503 && s != 421 && s != 0 {
			// 0: the client gave up before the replica's write timeout.
			t.Errorf("%s cut off: write error %v, want 503 or 421", pick, err)
		}
		var majority []int
		for i := range c.N() {
			if i != cut {
				majority = append(majority, i)
			}
		}
		accepted := fmt.Sprintf("accepted-%d", round)
		j, err := newClient(t, c, f.Key, majority...).SubmitJob(ctx, f.job(accepted))
		if err != nil {
			t.Fatalf("%s cut off: majority refused a write: %v", pick, err)
		}
		c.Heal()
		syncLive(t, c)
		for i := range c.N() {
			jobs := jobsOf(t, c, i)
			if _, ok := jobs[refused]; ok {
				t.Errorf("%s: holds %s, refused while cut off", c.ID(i), refused)
			}
			if got, ok := jobs[accepted]; !ok || got.Number != j.Number {
				t.Errorf("%s: %s = %+v, want number %d", c.ID(i), accepted, got, j.Number)
			}
		}
		if _, err := minority.GetJob(ctx, refused, true); !errors.Is(err, structs.ErrNotFound) {
			t.Errorf("consistent get of %s: %v, want not found", refused, err)
		}
	}
}

// TestHubRestartFromDisk stops all three replicas and starts them again:
// the state (from snapshot and log) is intact and numbering continues.
func TestHubRestartFromDisk(t *testing.T) {
	c := hubtest.New(t, 3, hubtest.Options{})
	f := seed(t, c)
	ctx := ctxFor(t, 90*time.Second)
	cl := newClient(t, c, f.Key)
	var last uint64
	for k := range 60 {
		id := fmt.Sprintf("disk-%02d", k)
		j, err := cl.SubmitJob(ctx, f.job(id))
		if err != nil {
			t.Fatal(err)
		}
		last = max(last, j.Number)
		if k%3 == 0 {
			if _, err := cl.CancelJob(ctx, id, "test"); err != nil {
				t.Fatal(err)
			}
		}
		if k == 30 { // half the state comes back from a snapshot
			l := syncLive(t, c)
			if err := c.Hub(l).Node().Snapshot(); err != nil {
				t.Fatal(err)
			}
		}
	}
	syncLive(t, c)
	before := jobsOf(t, c, 0)
	for i := range c.N() {
		c.Stop(i)
	}
	for i := range c.N() {
		c.Restart(i)
	}
	syncLive(t, c)
	for i := range c.N() {
		after := jobsOf(t, c, i)
		if len(after) != len(before) {
			t.Errorf("%s: %d jobs after restart, %d before", c.ID(i), len(after), len(before))
		}
		for id, b := range before {
			a, ok := after[id]
			if !ok || a.Number != b.Number || a.State != b.State || a.ModifyIndex != b.ModifyIndex {
				t.Errorf("%s: %s after restart = %+v, before %+v", c.ID(i), id, a, b)
			}
		}
	}
	j, err := cl.SubmitJob(ctx, f.job("disk-after"))
	if err != nil || j.Number <= last {
		t.Errorf("submit after restart = %+v, %v; want a number above %d", j, err, last)
	}
	if _, err := cl.WhoAmI(ctx); err != nil {
		t.Errorf("api key after restart: %v", err)
	}
}
