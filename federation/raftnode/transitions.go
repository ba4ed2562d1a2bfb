package raftnode

import (
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// Transitions counts one node's raft role changes since it started. Summed
// over the replicas, Leaderships is the number of elections won: every
// leader change (a failover, a step-down, a transfer) adds one.
type Transitions struct {
	// Candidacies: times this node stood for election (its heartbeat
	// timeout passed without word from a leader, or a leadership
	// transfer named it). With pre-vote, a candidacy the others refuse
	// does not raise the term and deposes no one.
	Candidacies uint64
	// Leaderships: times this node became leader.
	Leaderships uint64
	// StepDowns: times this node stopped leading while running: it lost
	// its lease (no word from a quorum within LeaderLeaseTimeout), met a
	// newer term, or handed leadership over.
	StepDowns uint64
	// HeartbeatFailures: heartbeat calls to a follower that failed while
	// this node led.
	HeartbeatFailures uint64
}

// Transitions returns this node's counts of role changes.
func (n *Node) Transitions() Transitions {
	return n.transitions.read()
}

// transitionCounter counts raft's observations in the observer's filter,
// which raft calls synchronously for every observation: nothing is
// dropped, and nothing is ever sent to the observer's channel.
type transitionCounter struct {
	last                                           atomic.Uint32 // the last raft.RaftState observed
	candidacies, leaderships, stepDowns, hbFailure atomic.Uint64
	observer                                       *raft.Observer
}

func startTransitionCounter(r *raft.Raft) *transitionCounter {
	c := &transitionCounter{}
	c.last.Store(uint32(r.State()))
	c.observer = raft.NewObserver(nil, false, c.count)
	r.RegisterObserver(c.observer)
	return c
}

// count is the observer's filter; it always returns false.
func (c *transitionCounter) count(o *raft.Observation) bool {
	switch d := o.Data.(type) {
	case raft.RaftState:
		switch prev := raft.RaftState(c.last.Swap(uint32(d))); {
		case d == raft.Candidate:
			c.candidacies.Add(1)
		case d == raft.Leader:
			c.leaderships.Add(1)
		case d == raft.Follower && prev == raft.Leader:
			c.stepDowns.Add(1)
		}
	case raft.FailedHeartbeatObservation:
		c.hbFailure.Add(1)
	}
	return false
}

func (c *transitionCounter) read() Transitions {
	return Transitions{
		Candidacies:       c.candidacies.Load(),
		Leaderships:       c.leaderships.Load(),
		StepDowns:         c.stepDowns.Load(),
		HeartbeatFailures: c.hbFailure.Load(),
	}
}

func (c *transitionCounter) stop(r *raft.Raft) { r.DeregisterObserver(c.observer) }
