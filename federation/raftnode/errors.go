package raftnode

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

var (
	// ErrNotLeader is matched (errors.Is) by every *NotLeaderError: the
	// operation needs the leader and this node is not it. Nothing was written.
	ErrNotLeader = errors.New("raftnode: not the leader")

	// ErrLeadershipLost means leadership was lost while a write was in
	// flight. The write may or may not have been committed.
	ErrLeadershipLost = errors.New("raftnode: leadership lost while applying")

	// ErrShutdown means the node is shut down or shutting down.
	ErrShutdown = errors.New("raftnode: node is shut down")

	// ErrExistingState is returned by Bootstrap when the node already has raft
	// state on disk; the cluster configuration is then taken from that state.
	ErrExistingState = errors.New("raftnode: existing raft state, not bootstrapping")

	// ErrEnqueueTimeout means raft did not accept the operation within
	// Config.ApplyTimeout (the leader is overloaded or stepping down).
	// Nothing was written.
	ErrEnqueueTimeout = errors.New("raftnode: timed out enqueueing to raft")

	// ErrBadEnvelope means a log entry's batch envelope could not be decoded.
	ErrBadEnvelope = errors.New("raftnode: malformed batch envelope")
)

// NotLeaderError is returned when an operation needs the leader and this node
// is not it. The leader fields are empty when no leader is known (election in
// progress).
type NotLeaderError struct {
	LeaderID   raft.ServerID
	LeaderAddr raft.ServerAddress
	// LeaderAPI is the leader's API address from the peer registry, or "".
	LeaderAPI string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return "raftnode: not the leader (no leader known)"
	}
	return fmt.Sprintf("raftnode: not the leader (leader is %s at %s)", e.LeaderID, e.LeaderAddr)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// Retryable reports whether err means the operation did not take effect here
// for a transient reason (no or another leader, leadership change, raft
// busy), so the caller may retry, possibly on the leader. After
// ErrLeadershipLost the earlier attempt may still have been committed.
func Retryable(err error) bool {
	return errors.Is(err, ErrNotLeader) || errors.Is(err, ErrLeadershipLost) ||
		errors.Is(err, ErrEnqueueTimeout)
}

// notLeader builds a *NotLeaderError from the node's current view.
func (n *Node) notLeader() error {
	addr, id := n.raft.LeaderWithID()
	api, _ := n.peerAPI(id)
	return &NotLeaderError{LeaderID: id, LeaderAddr: addr, LeaderAPI: api}
}

// mapRaftErr translates hashicorp/raft errors into this package's errors,
// keeping the raft error in the chain.
func (n *Node) mapRaftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrNotVoter):
		return n.notLeader()
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("%w: %w", ErrLeadershipLost, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrShutdown, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %w", ErrEnqueueTimeout, err)
	default:
		return fmt.Errorf("raftnode: %w", err)
	}
}
