package hub

import (
	"context"
)

// ConsistentRead returns once this replica's store reflects every write
// acknowledged before the call, so that a read following it is
// linearizable (implements api.Reads). The leader confirms its
// leadership with a quorum and names its commit index; this replica waits
// until it has applied that index. Retries like Write.
func (h *Hub) ConsistentRead(ctx context.Context) error {
	return h.retry(ctx, func(ctx context.Context) error {
		if h.node.IsLeader() {
			_, err := h.node.ReadBarrier(ctx)
			return err
		}
		addr, ok := h.node.LeaderAPIAddress()
		if !ok {
			return errNoLeader
		}
		index, err := h.forwardReadIndex(ctx, addr)
		if err != nil {
			return err
		}
		return h.node.WaitApplied(ctx, index)
	})
}

// ReadIndexInternal serves the internal read-index endpoint: on the
// leader, it confirms leadership and returns the index to apply before a
// linearizable read (implements api.Internal).
//
// The index is that of the latest entry that changed the state, not the
// commit index: entries after it (raft's no-op, barriers, refused
// commands) change nothing, and followers never report having applied
// no-ops and barriers, so waiting for them could stall.
func (h *Hub) ReadIndexInternal(ctx context.Context) (uint64, error) {
	if _, err := h.node.ReadBarrier(ctx); err != nil {
		return 0, publicError(err)
	}
	return h.store.LatestIndex(), nil
}
