package raftnode

import (
	"errors"
	"fmt"
	"maps"

	"github.com/hashicorp/raft"
)

// Bootstrap makes servers the initial voter set. It only acts on a node with
// no raft state at all; otherwise it returns ErrExistingState and changes
// nothing. Give every initial replica the same list (or bootstrap one and
// Join the others).
func (n *Node) Bootstrap(servers []raft.Server) error {
	err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
	if errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("%w: %w", ErrExistingState, err)
	}
	if err != nil {
		return fmt.Errorf("raftnode: bootstrap: %w", err)
	}
	return nil
}

// Join adds id at raft address addr as a voter. Leader only (else
// *NotLeaderError). Joining a server already present with the same address
// is a no-op. Record its API address with SetPeerAPI on every node.
func (n *Node) Join(id raft.ServerID, addr raft.ServerAddress) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return n.mapRaftErr(n.raft.AddVoter(id, addr, 0, n.cfg.ApplyTimeout).Error())
}

// JoinNonvoter adds id at raft address addr as a non-voter: it receives
// the log but does not count for elections or commits, so a replica that
// is still catching up cannot stall writes. Join promotes it later; a
// server that already votes stays a voter. Leader only.
func (n *Node) JoinNonvoter(id raft.ServerID, addr raft.ServerAddress) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return n.mapRaftErr(n.raft.AddNonvoter(id, addr, 0, n.cfg.ApplyTimeout).Error())
}

// Remove removes server id from the cluster. Leader only (else
// *NotLeaderError). Removing the leader itself makes it step down once the
// change commits.
func (n *Node) Remove(id raft.ServerID) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return n.mapRaftErr(n.raft.RemoveServer(id, 0, n.cfg.ApplyTimeout).Error())
}

// Servers returns the latest cluster configuration known to this node.
func (n *Node) Servers() ([]raft.Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, n.mapRaftErr(err)
	}
	return f.Configuration().Servers, nil
}

// SetPeerAPI records (or, with addr == "", forgets) the API address of
// server id in this node's registry used for leader forwarding.
func (n *Node) SetPeerAPI(id raft.ServerID, addr string) {
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	if addr == "" {
		delete(n.peers, id)
		return
	}
	n.peers[id] = addr
}

// PeerAPIs returns a copy of this node's registry of API addresses by
// raft server id.
func (n *Node) PeerAPIs() map[raft.ServerID]string {
	n.peersMu.RLock()
	defer n.peersMu.RUnlock()
	return maps.Clone(n.peers)
}

// LeaderAPIAddress returns the current leader's API address from the
// registry; ok is false when there is no known leader or no address for it.
func (n *Node) LeaderAPIAddress() (addr string, ok bool) {
	_, id := n.raft.LeaderWithID()
	return n.peerAPI(id)
}

func (n *Node) peerAPI(id raft.ServerID) (string, bool) {
	if id == "" {
		return "", false
	}
	n.peersMu.RLock()
	defer n.peersMu.RUnlock()
	addr, ok := n.peers[id]
	return addr, ok
}
