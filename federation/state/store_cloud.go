package state

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// CloudDeployment returns the record of a cloud cluster or ErrNotFound.
func (r *ReadTxn) CloudDeployment(name string) (*structs.CloudDeployment, error) {
	return getByID[*structs.CloudDeployment](r.txn, TableCloud, "cloud deployment", name)
}

// CloudDeployments returns every cloud deployment record, by name.
func (r *ReadTxn) CloudDeployments() ([]*structs.CloudDeployment, error) {
	return listAll[*structs.CloudDeployment](r.txn, TableCloud, "id")
}

// UpsertCloudDeployment creates or replaces a cloud deployment record if
// the stored one meets cas.
func (w *WriteTxn) UpsertCloudDeployment(d *structs.CloudDeployment, cas structs.CAS) error {
	if err := d.Validate(); err != nil {
		return err
	}
	return w.upsert(tCloud, d.Copy(), cas, "cloud deployment", d.Name)
}

// DeleteCloudDeployment deletes a cloud deployment record.
func (w *WriteTxn) DeleteCloudDeployment(name string) error {
	return w.remove(tCloud, "cloud deployment", name)
}
