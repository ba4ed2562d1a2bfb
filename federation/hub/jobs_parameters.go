package hub

import (
	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// checkParameters checks a submission's parameter values against the
// types, ranges and requirements of its AppDef command at submit, so a bad
// value is refused (400 naming the parameter) instead of failing the job
// when it starts.
func checkParameters(cmd *structs.Command, j *structs.Job) error {
	c, err := appdef.CommandOf(cmd, j.Command)
	if err != nil {
		return structs.Errorf(structs.ErrInvalid, "command %q: %v", j.Command, err)
	}
	return appdef.CheckValues(c, j.Parameters)
}
