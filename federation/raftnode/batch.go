package raftnode

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Apply replicates cmd through raft and returns the state machine's result
// for it and the index of the log entry that carried it. Commands of
// concurrent callers share log entries (see Config.BatchSize and
// Config.BatchLinger); each caller gets only its own result. cmd must not
// be modified afterwards, even if Apply returned early because ctx ended.
//
// If the state machine's result for cmd is an error, Apply returns it as err
// together with the (non-zero) index: the command was committed and applied.
// Otherwise a non-nil err means:
//   - ErrNotLeader (a *NotLeaderError): not written; retry on the leader;
//   - ErrLeadershipLost: may or may not have been committed;
//   - ErrEnqueueTimeout: not written; retry;
//   - ErrShutdown: the node is stopping; may or may not have been committed;
//   - ctx's error: the caller stopped waiting; if the command had already
//     been handed to the batcher it may still be applied.
func (n *Node) Apply(ctx context.Context, cmd []byte) (any, uint64, error) {
	return n.apply(ctx, cmd, nil)
}

// runBatcher hands the open batch (batchQueue) to raft: a batch starts
// with the first command that joins it and is submitted when it holds
// BatchSize commands or BatchLinger after it started, whichever comes
// first; while MaxInflight batches wait for their commit it keeps taking
// commands, up to MaxBatch, and goes when a slot frees.
func (n *Node) runBatcher() {
	defer close(n.batcherDone)
	q := n.queue
	linger := n.cfg.BatchLinger
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-q.wake:
		case <-n.shutdownCh:
			q.close()
			return
		}
		b := q.current()
		if b == nil {
			continue // a wake-up of a batch already taken
		}
		if linger > 0 && !q.full(b) {
			timer.Reset(linger)
		fill:
			for {
				select {
				case <-q.wake:
					if q.full(b) {
						break fill
					}
				case <-timer.C:
					break fill
				case <-n.shutdownCh:
					timer.Stop()
					q.close()
					return
				}
			}
			timer.Stop()
		}
		// Group commit: while MaxInflight batches wait for their commit,
		// this one keeps growing instead of becoming another small entry.
		if n.inflightN.Load() >= int64(n.cfg.MaxInflight) {
			q.grow(b, n.cfg.MaxBatch)
			for n.inflightN.Load() >= int64(n.cfg.MaxInflight) && !q.full(b) {
				select {
				case <-q.wake: // b may be full now
				case <-n.slotFree:
				case <-n.shutdownCh:
					q.close()
					return
				}
			}
		}
		q.cut(b)
		n.submit(b)
	}
}

// submit hands one batch to raft and queues it for the completer.
func (n *Node) submit(b *batch) {
	b.future = n.raft.Apply(encodeEnvelope(b.cmds), n.cfg.ApplyTimeout)
	// inflight is closed only after the batcher has exited, and the
	// completer drains it until then, so this send cannot panic or hang.
	n.inflightN.Add(1)
	n.inflight <- b
}

// runCompleter waits for batch futures in submission order (raft completes
// them in log order) and answers each batch's callers at once.
func (n *Node) runCompleter() {
	defer close(n.completerDone)
	for b := range n.inflight {
		err := n.futureErr(b.future)
		n.inflightN.Add(-1)
		select {
		case n.slotFree <- struct{}{}:
		default:
		}
		if err != nil {
			b.answer(nil, 0, n.mapRaftErr(err))
			continue
		}
		index := b.future.Index()
		n.entries.Add(1)
		n.commands.Add(uint64(len(b.cmds)))
		switch resp := b.future.Response().(type) {
		case []any:
			if len(resp) != len(b.cmds) {
				b.answer(nil, 0, fmt.Errorf("raftnode: state machine returned %d results for %d commands at index %d",
					len(resp), len(b.cmds), index))
				continue
			}
			b.answer(resp, index, nil)
		case error:
			b.answer(nil, index, resp)
		default:
			b.answer(nil, 0, fmt.Errorf("raftnode: unexpected state machine response %T at index %d", resp, index))
		}
	}
}

// futureErr waits for f. raft may never answer the future of an entry that
// was committed but not yet applied when it shut down, so once raft is down
// an unanswered future counts as ErrRaftShutdown (its waiting goroutine is
// then abandoned).
func (n *Node) futureErr(f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-n.raftDown:
	}
	grace := time.NewTimer(100 * time.Millisecond)
	defer grace.Stop()
	select {
	case err := <-done:
		return err
	case <-grace.C:
		return raft.ErrRaftShutdown
	}
}
