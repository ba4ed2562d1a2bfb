package raftnode

import (
	"sync"

	"github.com/hashicorp/raft"
)

// resendThreshold is how many times in a row a leader reads the same
// snapshot to its end (sends it whole) before it takes a newer one.
const resendThreshold = 3

// snapshotSends counts how often the same snapshot is read whole in a row.
//
// A follower whose last log entry sits exactly at the index of the
// snapshot the leader sends it, with another term (an entry of a deposed
// leader), keeps that entry as its last one in memory after installing
// the snapshot: hashicorp/raft v1.8.0 does not reset it, and compares the
// leader's next append (previous entry: the snapshot's index and term)
// with it, not with the snapshot, and refuses. The leader walks back and
// sends the same snapshot again, and would until it took a newer one on
// its own (Config.SnapshotThreshold new entries). snapLog cannot help
// there (the follower reads no log entry), so the leader helps itself:
// once it has sent the same snapshot whole resendThreshold times in a row it
// commits a barrier and snapshots past it, once per snapshot. A snapshot
// sent to several lagging followers in turn costs at most one extra
// snapshot.
type snapshotSends struct {
	mu      sync.Mutex
	id      string
	n       int
	fired   bool
	trigger func() // set once the node exists; nil before
}

// opened records that snapshot id was read to its end.
func (s *snapshotSends) opened(id string) {
	s.mu.Lock()
	if id != s.id {
		s.id, s.n, s.fired = id, 0, false
	}
	s.n++
	var trigger func()
	if s.n >= resendThreshold && !s.fired && s.trigger != nil {
		s.fired = true
		trigger = s.trigger
	}
	s.mu.Unlock()
	if trigger != nil {
		trigger()
	}
}

func (s *snapshotSends) setTrigger(f func()) {
	s.mu.Lock()
	s.trigger = f
	s.mu.Unlock()
}

// snapshotPastResends is the trigger: on a leader, a barrier entry and a
// snapshot that includes it, in the background.
func (n *Node) snapshotPastResends() {
	n.resendWG.Add(1)
	go func() {
		defer n.resendWG.Done()
		if n.raft.State() != raft.Leader {
			return
		}
		n.logger.Warn("sending the same snapshot again and again; taking a newer one so that a follower " +
			"whose last entry is at that snapshot's index catches up")
		if err := n.raft.Barrier(n.cfg.ApplyTimeout).Error(); err != nil {
			n.logger.Warn("barrier before a newer snapshot", "error", err)
			return
		}
		if err := n.raft.Snapshot().Error(); err != nil {
			n.logger.Warn("newer snapshot for a follower", "error", err)
		}
	}()
}
