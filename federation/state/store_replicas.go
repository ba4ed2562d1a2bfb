package state

import (
	"fmt"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Replica returns the hub replica with the given raft id from the replica
// directory, or ErrNotFound.
func (r *ReadTxn) Replica(id string) (*structs.Replica, error) {
	return getByID[*structs.Replica](r.txn, TableReplicas, "replica", id)
}

// Replicas returns the replica directory, by id.
func (r *ReadTxn) Replicas() ([]*structs.Replica, error) {
	return listAll[*structs.Replica](r.txn, TableReplicas, "id")
}

// UpsertReplica records a hub replica's addresses in the directory. Two
// replicas never share a raft or an API address: a replica moving to an
// address another one holds is refused (ErrConflict) until that one is
// deleted.
func (w *WriteTxn) UpsertReplica(rep *structs.Replica) error {
	if err := rep.Validate(); err != nil {
		return err
	}
	for _, by := range []struct{ index, value string }{
		{"raft_address", rep.RaftAddress}, {"api_address", rep.APIAddress},
	} {
		it, err := w.txn.Get(TableReplicas, by.index, by.value)
		if err != nil {
			return fmt.Errorf("state: replicas by %s: %w", by.index, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if other := raw.(*structs.Replica); other.ID != rep.ID {
				return structs.Errorf(structs.ErrConflict, "replica %q: %s %q is replica %q's",
					rep.ID, by.index, by.value, other.ID)
			}
		}
	}
	raw, err := rawByID(w.txn, TableReplicas, rep.ID)
	if err != nil {
		return err
	}
	existing, _ := raw.(stored)
	return w.insert(tReplicas, rep.Copy(), existing)
}

// DeleteReplica removes a hub replica from the directory.
func (w *WriteTxn) DeleteReplica(id string) error {
	return w.remove(tReplicas, "replica", id)
}
