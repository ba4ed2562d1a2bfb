package state

import "github.com/flotilla-hpc/flotilla/federation/structs"

// Read-only references for hot read paths (every job submission reads its
// app, machine type and owner). They return the stored object, shared with
// every other reader, instead of a deep copy: the caller must not modify
// it or anything it points to. Anything that may change or keep the object
// uses the copying accessors (App, MachineType, User, Job).

// AppRef is App without the copy.
func (r *ReadTxn) AppRef(name string) (*structs.App, error) {
	return refByID[*structs.App](r.txn, TableApps, "app", name)
}

// MachineTypeRef is MachineType without the copy.
func (r *ReadTxn) MachineTypeRef(name string) (*structs.MachineType, error) {
	return refByID[*structs.MachineType](r.txn, TableMachineTypes, "machine type", name)
}

// UserRef is User without the copy.
func (r *ReadTxn) UserRef(username string) (*structs.User, error) {
	return refByID[*structs.User](r.txn, TableUsers, "user", username)
}

// JobRef is Job without the copy.
func (r *ReadTxn) JobRef(id string) (*structs.Job, error) {
	if j := r.storedJob(id); j != nil {
		return j, nil
	}
	return nil, notFound("job", id)
}
