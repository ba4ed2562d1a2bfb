package raftnode

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// applyReq is one caller's command waiting to be batched.
type applyReq struct {
	cmd  []byte
	done chan applyResult // buffered: the completer never blocks on it
}

type applyResult struct {
	val   any
	index uint64
	err   error
}

// pendingBatch is a batch handed to raft, waiting for its future.
type pendingBatch struct {
	future raft.ApplyFuture
	reqs   []*applyReq
}

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

// runBatcher collects commands into batches: a batch starts with the first
// waiting command and is submitted when it holds BatchSize commands or
// BatchLinger after it started, whichever comes first.
func (n *Node) runBatcher() {
	defer close(n.batcherDone)
	linger := n.cfg.BatchLinger
	limit := n.cfg.BatchSize
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first *applyReq
		select {
		case first = <-n.applyCh:
		case <-n.shutdownCh:
			return
		}
		batch := make([]*applyReq, 1, limit)
		batch[0] = first
		if linger > 0 {
			timer.Reset(linger)
		}
	fill:
		for len(batch) < limit {
			if linger < 0 {
				select {
				case r := <-n.applyCh:
					batch = append(batch, r)
				default:
					break fill
				}
				continue
			}
			select {
			case r := <-n.applyCh:
				batch = append(batch, r)
			case <-timer.C:
				break fill
			case <-n.shutdownCh:
				failAll(batch, ErrShutdown)
				return
			}
		}
		timer.Stop()
		// Group commit: while MaxInflight batches wait for their commit,
		// this one keeps growing instead of becoming another small entry.
		for n.inflightN.Load() >= int64(n.cfg.MaxInflight) && len(batch) < n.cfg.MaxBatch {
			select {
			case r := <-n.applyCh:
				batch = append(batch, r)
			case <-n.slotFree:
			case <-n.shutdownCh:
				failAll(batch, ErrShutdown)
				return
			}
		}
		n.submit(batch)
	}
}

// submit hands one batch to raft and queues its future for the completer.
func (n *Node) submit(batch []*applyReq) {
	cmds := make([][]byte, len(batch))
	for i, r := range batch {
		cmds[i] = r.cmd
	}
	f := n.raft.Apply(encodeEnvelope(cmds), n.cfg.ApplyTimeout)
	// inflight is closed only after the batcher has exited, and the
	// completer drains it until then, so this send cannot panic or hang.
	n.inflightN.Add(1)
	n.inflight <- &pendingBatch{future: f, reqs: batch}
}

// runCompleter waits for batch futures in submission order (raft completes
// them in log order) and hands every caller its result.
func (n *Node) runCompleter() {
	defer close(n.completerDone)
	for p := range n.inflight {
		err := n.futureErr(p.future)
		n.inflightN.Add(-1)
		select {
		case n.slotFree <- struct{}{}:
		default:
		}
		if err != nil {
			failAll(p.reqs, n.mapRaftErr(err))
			continue
		}
		index := p.future.Index()
		n.entries.Add(1)
		n.commands.Add(uint64(len(p.reqs)))
		switch resp := p.future.Response().(type) {
		case []any:
			if len(resp) != len(p.reqs) {
				failAll(p.reqs, fmt.Errorf("raftnode: state machine returned %d results for %d commands at index %d",
					len(resp), len(p.reqs), index))
				continue
			}
			for i, r := range p.reqs {
				res := applyResult{val: resp[i], index: index}
				switch v := resp[i].(type) {
				case error:
					res = applyResult{index: index, err: v}
				case Detacher:
					res.val = v.Detach() // the caller's own copy (SharedApplier)
				}
				r.done <- res
			}
		case error:
			for _, r := range p.reqs {
				r.done <- applyResult{index: index, err: resp}
			}
		default:
			failAll(p.reqs, fmt.Errorf("raftnode: unexpected state machine response %T at index %d", resp, index))
		}
	}
}

func failAll(reqs []*applyReq, err error) {
	for _, r := range reqs {
		r.done <- applyResult{err: err}
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
