package jobs

import (
	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// checkParameters checks a job's parameter values against its AppDef
// command with the catalog's own rules (catalog-sync/appdef: each value a
// parameter of the command, of its type and in its range, a selection one
// of its values, an upload within its size, every required parameter
// given), so a bad value is refused at submit, naming the parameter,
// instead of failing the job on its cluster.
func checkParameters(j *structs.Job, cmd structs.Command) error {
	c, err := appdef.CommandOf(&cmd, j.Command)
	if err != nil {
		return structs.Errorf(structs.ErrInvalid, "command %q: %v", j.Command, err)
	}
	return appdef.CheckValues(c, j.Parameters)
}
