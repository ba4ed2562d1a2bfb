package api

import (
	"io"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// cloudDeployments are the endpoints of the records `flotilla cloud`
// keeps of what it created: global administrators only, reads too (they
// name the cloud account's resources).
func cloudDeployments() globalKind[*structs.CloudDeployment] {
	return globalKind[*structs.CloudDeployment]{what: "cloud deployments", list: (*state.ReadTxn).CloudDeployments,
		get: (*state.ReadTxn).CloudDeployment, decode: decodeCloudDeployment,
		upsert: func(d *structs.CloudDeployment, cas structs.CAS) fsm.Command {
			return &fsm.CloudDeploymentUpsert{Deployment: *d, CAS: cas}
		},
		remove: func(n string, cas structs.CAS) fsm.Command { return &fsm.CloudDeploymentDelete{Name: n, CAS: cas} }}
}

// adminOnly refuses h to all but global administrators.
func adminOnly(what string, h handler) handler {
	return func(c *call) (any, error) {
		if err := c.id.CheckGlobalAdmin(what); err != nil {
			return nil, err
		}
		return h(c)
	}
}

func decodeCloudDeployment(r io.Reader, name string) (*structs.CloudDeployment, error) {
	return decodeObject(r, func(d *structs.CloudDeployment) []pathKey { return []pathKey{{"cloud deployment", &d.Name, name}} })
}
