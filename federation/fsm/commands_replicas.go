package fsm

import (
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// ReplicaUpsert records a hub replica's raft and API addresses in the
// replica directory (every replica forwards writes to the leader's API
// address found there). Refused with ErrConflict when another replica
// holds either address.
type ReplicaUpsert struct {
	Replica structs.Replica `json:"replica"`
}

func (c *ReplicaUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertReplica(&c.Replica))
}

// ReplicaDelete removes a hub replica from the replica directory.
type ReplicaDelete struct {
	ID string `json:"id"`
}

func (c *ReplicaDelete) apply(w *state.WriteTxn) (any, error) { return nil, w.DeleteReplica(c.ID) }
