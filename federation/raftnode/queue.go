package raftnode

import (
	"context"
	"sync"

	"github.com/hashicorp/raft"
)

// batch is the commands of one log entry. Callers join it while it is
// open (batchQueue.join), the batcher takes it (cut) and hands it to raft,
// and the completer answers all its callers at once (answer): one
// channel, one allocation of the batch and its command list per log
// entry, none per command. A caller reads its own result by its position
// (result).
type batch struct {
	cmds [][]byte
	// limit is how many commands the batch takes; guarded by the queue's
	// mutex like cmds until the batch is cut.
	limit int
	// room, made by the first caller that finds the batch at its limit,
	// is closed when the batch stops being the queue's open batch or its
	// limit grows; guarded by the queue's mutex.
	room chan struct{}

	future raft.ApplyFuture // set by submit

	// Written once by answer before done is closed; read-only after.
	results []any  // the state machine's result per command, when err is nil
	index   uint64 // the entry's index (also with err when the entry was applied)
	err     error  // the whole batch's error
	done    chan struct{}
}

// answer gives the batch's callers their outcome and wakes them.
func (b *batch) answer(results []any, index uint64, err error) {
	b.results, b.index, b.err = results, index, err
	close(b.done)
}

// result is the outcome of the batch's command at position i, once done
// is closed: the batch's error, the command's error result, or its
// value (Detach's copy of a shared one, made here by its caller).
func (b *batch) result(i int) (any, uint64, error) {
	if b.err != nil {
		return nil, b.index, b.err
	}
	switch v := b.results[i].(type) {
	case error:
		return nil, b.index, v
	case Detacher:
		return v.Detach(), b.index, nil // the caller's own copy (SharedApplier)
	default:
		return v, b.index, nil
	}
}

// batchQueue is the open batch callers join. A join takes the mutex and
// appends; only the first command of a batch and the one that fills it
// wake the batcher, so the batcher does not run once per command.
type batchQueue struct {
	mu     sync.Mutex
	open   *batch
	closed bool // the batcher has stopped: joins fail with ErrShutdown
	size   int  // a new batch's limit (Config.BatchSize)
	// wake tells the batcher that a batch was opened or filled; one
	// pending signal stands for any number.
	wake chan struct{}
}

func newBatchQueue(size int) *batchQueue {
	return &batchQueue{size: size, wake: make(chan struct{}, 1)}
}

// join adds cmd to the open batch (opening one if there is none) and
// returns the batch and cmd's position in it. While the open batch is
// at its limit the caller waits, not yet handed over, until it may join:
// shutdown, ctx or passed end that wait with nothing written.
func (q *batchQueue) join(ctx context.Context, cmd []byte, shutdown, passed <-chan struct{}) (*batch, int, error) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, 0, ErrShutdown
		}
		b := q.open
		if b == nil {
			b = &batch{cmds: make([][]byte, 0, q.size), limit: q.size, done: make(chan struct{})}
			q.open = b
		}
		if i := len(b.cmds); i < b.limit {
			b.cmds = append(b.cmds, cmd)
			signal := i == 0 || i+1 == b.limit
			q.mu.Unlock()
			if signal {
				select {
				case q.wake <- struct{}{}:
				default:
				}
			}
			return b, i, nil
		}
		if b.room == nil {
			b.room = make(chan struct{})
		}
		room := b.room
		q.mu.Unlock()
		select {
		case <-room:
		case <-shutdown:
			return nil, 0, ErrShutdown
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-passed:
			return nil, 0, ErrDeadline
		}
	}
}

// current is the open batch, or nil.
func (q *batchQueue) current() *batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.open
}

// full reports whether b holds as many commands as it takes.
func (q *batchQueue) full(b *batch) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(b.cmds) >= b.limit
}

// grow raises b's limit to limit; callers waiting for room join it.
func (q *batchQueue) grow(b *batch, limit int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if limit > b.limit {
		b.limit = limit
		b.freeRoom()
	}
}

// cut takes b, the open batch, out of the queue: it takes no more
// commands, and the callers waiting for room open the next one.
func (q *batchQueue) cut(b *batch) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.open == b {
		q.open = nil
	}
	b.freeRoom()
}

// close stops the queue for good: the open batch's callers get
// ErrShutdown (not written), and so does every later join.
func (q *batchQueue) close() {
	q.mu.Lock()
	b := q.open
	q.open = nil
	q.closed = true
	if b != nil {
		b.freeRoom()
	}
	q.mu.Unlock()
	if b != nil {
		b.answer(nil, 0, ErrShutdown)
	}
}

// freeRoom wakes the callers waiting for room in b; the queue's mutex is
// held.
func (b *batch) freeRoom() {
	if b.room != nil {
		close(b.room)
		b.room = nil
	}
}
