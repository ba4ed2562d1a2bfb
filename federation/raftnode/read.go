package raftnode

import (
	"context"
	"sync"

	"github.com/hashicorp/raft"
)

// VerifyLeader confirms with a quorum that this node is still the leader
// (raft.VerifyLeader). It fails with a *NotLeaderError if it is not.
func (n *Node) VerifyLeader(ctx context.Context) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return n.await(ctx, n.raft.VerifyLeader(), nil)
}

// ReadBarrier makes a following read of the local state machine
// linearizable: it notes the commit index, confirms leadership with a quorum
// and waits until the state machine has applied up to that index, which it
// returns. The first call in a leader's term first commits a barrier entry,
// since a new leader's commit index is only current once an entry of its own
// term has committed. Leader only (else *NotLeaderError).
func (n *Node) ReadBarrier(ctx context.Context) (uint64, error) {
	if err := n.leaderOnly(); err != nil {
		return 0, err
	}
	if term := n.raft.CurrentTerm(); n.readyTerm.Load() != term {
		f := n.raft.Barrier(n.cfg.ApplyTimeout)
		err := n.await(ctx, f, func() {
			// Everything up to the barrier has been applied when its
			// future completes; non-command entries (raft's no-op,
			// barriers) are otherwise invisible to the adapter.
			if ix, ok := f.(interface{ Index() uint64 }); ok {
				n.fsm.advance(ix.Index())
			}
		})
		if err != nil {
			return 0, err
		}
		if n.raft.CurrentTerm() == term {
			n.readyTerm.Store(term)
		}
	}
	index := n.raft.CommitIndex()
	if err := n.VerifyLeader(ctx); err != nil {
		return 0, err
	}
	if err := n.WaitApplied(ctx, index); err != nil {
		return 0, err
	}
	return index, nil
}

// WaitApplied blocks until the local state machine has applied index (or
// restored a snapshot at or past it), ctx ends or the node shuts down. It
// works on any node, e.g. to watch state by raft index.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	for {
		wake := n.fsm.notify.wait()
		if n.fsm.applied.Load() >= index {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.shutdownCh:
			return ErrShutdown
		}
	}
}

// await waits for f under ctx. onSuccess, if set, runs when f succeeds even
// if ctx ended first.
func (n *Node) await(ctx context.Context, f raft.Future, onSuccess func()) error {
	done := make(chan error, 1)
	go func() {
		err := f.Error()
		if err == nil && onSuccess != nil {
			onSuccess()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return n.mapRaftErr(err)
	case <-ctx.Done():
		return ctx.Err()
	case <-n.shutdownCh:
		return ErrShutdown
	}
}

// appliedNotifier wakes goroutines waiting for the applied index to grow. It
// allocates a channel only while someone waits.
type appliedNotifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next wake.
func (a *appliedNotifier) wait() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ch == nil {
		a.ch = make(chan struct{})
	}
	return a.ch
}

func (a *appliedNotifier) wake() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ch != nil {
		close(a.ch)
		a.ch = nil
	}
}
