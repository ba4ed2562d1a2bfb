package raftnode

import (
	"testing"
	"time"
)

// TestDeadlineClockLeavesNoSlot: callers whose deadlines fall in a slot
// share its channel and timer; once the last of them stops waiting the
// slot and its timer are gone, and a slot whose deadline passes closes
// its channel and goes too.
func TestDeadlineClockLeavesNoSlot(t *testing.T) {
	var c deadlineClock
	slot := int64(deadlineSlotLen)
	far := time.Unix(0, (time.Now().Add(time.Hour).UnixNano()/slot+1)*slot) // a slot's start
	var keys []int64
	for i := range 1000 {
		k, ch := c.wait(far.Add(time.Duration(i) * time.Millisecond))
		if ch == nil {
			t.Fatal("no channel")
		}
		keys = append(keys, k)
	}
	if got, want := c.pending(), 100; got != want { // 1000 ms over 10 ms slots
		t.Errorf("%d slots for deadlines 1 s apart in 1 ms steps, want %d", got, want)
	}
	for _, k := range keys {
		c.done(k)
	}
	if n := c.pending(); n != 0 {
		t.Errorf("%d slots left after every caller stopped waiting", n)
	}

	k, passed := c.wait(time.Now().Add(20 * time.Millisecond))
	select {
	case <-passed:
	case <-time.After(30 * time.Second):
		t.Fatal("the slot of a passed deadline never closed")
	}
	if n := c.pending(); n != 0 {
		t.Errorf("%d slots left after the deadline passed", n)
	}
	c.done(k) // after the slot fired: nothing to do, no panic
}
