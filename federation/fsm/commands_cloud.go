package fsm

import (
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// CloudDeploymentUpsert creates or replaces the record of what `flotilla
// cloud up` created for a cluster.
type CloudDeploymentUpsert struct {
	Deployment structs.CloudDeployment `json:"deployment"`
	structs.CAS
}

func (c *CloudDeploymentUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertCloudDeployment(&c.Deployment, c.CAS))
}

// CloudDeploymentDelete deletes a cloud deployment record.
type CloudDeploymentDelete struct {
	Name string `json:"name"`
	structs.CAS
}

func (c *CloudDeploymentDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableCloud, "cloud deployment", func() error { return w.DeleteCloudDeployment(c.Name) }, c.Name)
}
