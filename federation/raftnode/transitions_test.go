package raftnode_test

import (
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode/rafttest"
)

// sumLeaderships is the elections won over the cluster's live nodes.
func sumLeaderships(c *rafttest.Cluster) uint64 {
	var n uint64
	for _, i := range c.Live() {
		n += c.Node(i).Transitions().Leaderships
	}
	return n
}

// TestTransitionsCountLeaderChanges: a handed-over leadership is one more
// election won in the cluster, a step-down on the old leader and a
// candidacy and a leadership on the new one; a leader cut off from the
// others steps down (its lease), its heartbeats fail, and the others
// elect a leader among them.
func TestTransitionsCountLeaderChanges(t *testing.T) {
	c := rafttest.New(t, 3, newKV, rafttest.Options{})
	l := waitLeader(t, c)
	put(t, c, "a", "1")
	if got := c.Node(l).Transitions().Leaderships; got < 1 {
		t.Fatalf("the leader counts %d leaderships, want at least 1", got)
	}
	before := sumLeaderships(c)
	old := c.Node(l).Transitions()
	if err := c.Node(l).TransferLeadership(); err != nil {
		t.Fatalf("TransferLeadership: %v", err)
	}
	nl := waitLeader(t, c)
	if nl == l {
		t.Fatalf("%s still leads after handing over", c.ID(l))
	}
	waitFor(t, 10*time.Second, "the new leader's election counted", func() bool {
		return sumLeaderships(c) >= before+1
	})
	if got := c.Node(l).Transitions(); got.StepDowns < old.StepDowns+1 {
		t.Errorf("the old leader counts %d step-downs after handing over, want at least %d", got.StepDowns, old.StepDowns+1)
	}
	if got := c.Node(nl).Transitions(); got.Candidacies < 1 || got.Leaderships < 1 {
		t.Errorf("the new leader counts %+v, want a candidacy and a leadership", got)
	}

	// The leader alone on its side of a cut.
	put(t, c, "b", "2")
	cut := c.Node(nl)
	beforeCut := cut.Transitions()
	c.Partition(nl)
	waitFor(t, 30*time.Second, "the cut-off leader to step down", func() bool {
		return !cut.IsLeader() && cut.Transitions().StepDowns > beforeCut.StepDowns
	})
	if got := cut.Transitions(); got.HeartbeatFailures == 0 {
		t.Errorf("the cut-off leader counts no failed heartbeat: %+v", got)
	}
	waitFor(t, 30*time.Second, "a leader among the other two", func() bool {
		for _, i := range c.Live() {
			if i != nl && c.Node(i).IsLeader() {
				return true
			}
		}
		return false
	})
	c.Heal()
	waitLeader(t, c)
}
