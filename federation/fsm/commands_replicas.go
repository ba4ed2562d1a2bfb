package fsm

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// ReplicaUpsert records a hub replica's raft and API addresses in the
// replica directory (every replica forwards writes to the leader's API
// address found there). Refused with ErrConflict when another replica
// holds either address.
type ReplicaUpsert struct {
	Replica structs.Replica `json:"replica"`
}

// ReplicaDelete removes a hub replica from the replica directory.
type ReplicaDelete struct {
	ID string `json:"id"`
}

// CommandType methods.
func (ReplicaUpsert) CommandType() CommandType { return TypeReplicaUpsert }
func (ReplicaDelete) CommandType() CommandType { return TypeReplicaDelete }
