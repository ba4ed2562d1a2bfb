package raftnode

import (
	"io"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// TestSnapshotSendsTrigger: the leader takes a newer snapshot once it has
// read the same one whole three times in a row, once per snapshot; reads
// a failed connection left short (a follower that is down) do not count.
func TestSnapshotSendsTrigger(t *testing.T) {
	snaps := raft.NewInmemSnapshotStore()
	_, trans := raft.NewInmemTransport("")
	create := func(index uint64) string {
		sink, err := snaps.Create(raft.SnapshotVersionMax, index, 1, raft.Configuration{}, 1, trans)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(sink, strings.NewReader("state")); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		return sink.ID()
	}
	sends := &snapshotSends{}
	fired := 0
	sends.setTrigger(func() { fired++ })
	store := snapshotStore{SnapshotStore: snaps, fsm: &fsmAdapter{}, sends: sends}
	open := func(id string, whole bool) {
		_, rc, err := store.Open(id)
		if err != nil {
			t.Fatal(err)
		}
		if whole {
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatal(err)
			}
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
	}
	a := create(10)
	for range 5 {
		open(a, false)
	}
	if fired != 0 {
		t.Fatalf("unread opens fired %d times", fired)
	}
	for k := range 6 {
		open(a, true)
		if want := min(1, (k+1)/resendThreshold); fired != want {
			t.Fatalf("after %d whole reads: fired %d times, want %d", k+1, fired, want)
		}
	}
	b := create(20)
	for range resendThreshold {
		open(b, true)
	}
	if fired != 2 {
		t.Errorf("a newer snapshot sent %d times: fired %d times in all, want 2", resendThreshold, fired)
	}
}
