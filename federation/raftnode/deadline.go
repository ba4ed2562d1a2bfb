package raftnode

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// ErrDeadline is ApplyBy's error for a caller whose deadline passed
// while it waited. It matches context.DeadlineExceeded (errors.Is), as a
// timed-out context's error did: whether the command was written is
// unknown (see ApplyBy).
var ErrDeadline = fmt.Errorf("raftnode: deadline passed: %w", context.DeadlineExceeded)

// deadlineSlotLen is the resolution of ApplyBy's deadlines: a caller
// learns that its deadline passed at most this much late. Every caller
// whose deadline falls in one slot waits on that slot's one channel.
const deadlineSlotLen = 10 * time.Millisecond

// deadlineClock wakes callers waiting with a deadline without a timer or
// a context of their own: the callers whose deadlines fall in one slot of
// deadlineSlotLen share one channel, closed by one timer when the slot
// ends. A slot no caller waits on any more stops its timer and goes away,
// so nothing outlives its waiters.
type deadlineClock struct {
	mu    sync.Mutex
	slots map[int64]*deadlineSlot
}

// deadlineSlot is the callers of one slot.
type deadlineSlot struct {
	passed  chan struct{} // closed when the slot ends
	timer   *time.Timer
	waiters int
}

// wait registers a caller with deadline and returns its slot's key and a
// channel closed once the deadline has passed. The caller calls done(key)
// when it stops waiting.
func (c *deadlineClock) wait(deadline time.Time) (int64, <-chan struct{}) {
	key := deadline.UnixNano()/int64(deadlineSlotLen) + 1 // the slot's end
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slots[key]
	if s == nil {
		if c.slots == nil {
			c.slots = make(map[int64]*deadlineSlot)
		}
		s = &deadlineSlot{passed: make(chan struct{})}
		end := time.Unix(0, key*int64(deadlineSlotLen))
		s.timer = time.AfterFunc(time.Until(end), func() { c.fire(key, s) })
		c.slots[key] = s
	}
	s.waiters++
	return key, s.passed
}

// fire ends slot s: its channel closes and it leaves the table.
func (c *deadlineClock) fire(key int64, s *deadlineSlot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.slots[key] == s {
		delete(c.slots, key)
	}
	close(s.passed)
}

// done unregisters a caller of slot key; the last one stops the slot's
// timer unless it fired already.
func (c *deadlineClock) done(key int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slots[key]
	if s == nil { // fired: the channel is closed and the slot gone
		return
	}
	if s.waiters--; s.waiters == 0 && s.timer.Stop() {
		delete(c.slots, key)
	}
}

// pending returns how many slots wait for their end (for tests: no slot
// outlives its callers).
func (c *deadlineClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.slots)
}

// ApplyBy is Apply with a deadline instead of a timeout context: a caller
// still waiting when deadline passes gets ErrDeadline, whose meaning is
// that of a timed-out context's error: if the command had been handed to
// the batcher it may still be applied (commands that must not apply twice
// are idempotent in the state machine, so a retry is safe). The deadline
// costs no timer or context per call (callers share one timer per
// deadlineSlotLen). ctx still stops the wait at once when it ends.
func (n *Node) ApplyBy(ctx context.Context, cmd []byte, deadline time.Time) (any, uint64, error) {
	if time.Until(deadline) <= 0 {
		return nil, 0, ErrDeadline // nothing written
	}
	key, passed := n.deadlines.wait(deadline)
	defer n.deadlines.done(key)
	return n.apply(ctx, cmd, passed)
}

// apply is Apply and ApplyBy: passed, when not nil, is closed once the
// caller's deadline has passed.
func (n *Node) apply(ctx context.Context, cmd []byte, passed <-chan struct{}) (any, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if err := n.leaderOnly(); err != nil {
		return nil, 0, err
	}
	b, i, err := n.queue.join(ctx, cmd, n.shutdownCh, passed)
	if err != nil {
		return nil, 0, err // not handed over: nothing written
	}
	select {
	case <-b.done:
		return b.result(i)
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("raftnode: stopped waiting, the command may still be applied: %w", ctx.Err())
	case <-passed:
		select {
		case <-b.done: // answered in the same moment: the answer wins
			return b.result(i)
		default:
		}
		return nil, 0, fmt.Errorf("raftnode: stopped waiting, the command may still be applied: %w", ErrDeadline)
	}
}
