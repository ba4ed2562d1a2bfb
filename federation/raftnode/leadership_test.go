package raftnode_test

import (
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/raftnode/rafttest"
)

// TestTransferLeadershipAlone: the only voter has no one to hand
// leadership to, and that is no error (a one-replica hub stopping logged
// a warning "cannot find peer" on every clean shutdown); it stays leader.
func TestTransferLeadershipAlone(t *testing.T) {
	c := rafttest.New(t, 1, newKV, rafttest.Options{})
	l := waitLeader(t, c)
	put(t, c, "a", "1")
	if err := c.Node(l).TransferLeadership(); err != nil {
		t.Fatalf("TransferLeadership on the only voter: %v", err)
	}
	if id, _ := c.Node(l).Leader(); id != c.ID(l) {
		t.Errorf("leader %q after the transfer, want %q still", id, c.ID(l))
	}
}

// TestTransferLeadershipToAnotherVoter: with other voters, the leader
// hands over and another replica leads.
func TestTransferLeadershipToAnotherVoter(t *testing.T) {
	c := rafttest.New(t, 3, newKV, rafttest.Options{})
	l := waitLeader(t, c)
	put(t, c, "a", "1")
	if err := c.Node(l).TransferLeadership(); err != nil {
		t.Fatalf("TransferLeadership: %v", err)
	}
	if nl := waitLeader(t, c); nl == l {
		t.Errorf("%s still leads after handing over", c.ID(l))
	}
}
