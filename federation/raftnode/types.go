package raftnode

import "github.com/hashicorp/raft"

// The raft types this package's API uses, so that its users (the hub, its
// configuration, tests and tools) need not import hashicorp/raft: only
// raftnode and fsm do (see docs/architecture.md).
type (
	// ServerID is a replica's raft id.
	ServerID = raft.ServerID
	// ServerAddress is a replica's raft host:port.
	ServerAddress = raft.ServerAddress
	// Server is a member of the raft configuration.
	Server = raft.Server
	// ServerSuffrage says whether a member votes.
	ServerSuffrage = raft.ServerSuffrage
	// StreamLayer replaces the TCP listener/dialer of the raft transport.
	StreamLayer = raft.StreamLayer
)

// Suffrages of a member.
const (
	Voter    = raft.Voter
	Nonvoter = raft.Nonvoter
	Staging  = raft.Staging
)
