package runtime

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// InputOf returns the render input of an assigned job and, when the job
// cannot run, why: the hub's Problem, or a protocol error when the
// assignment carries neither a command nor a problem. A job that cannot
// run ends COMPLETED_WITH_ERROR with that reason; nothing is created for
// it, and no substitute command ever runs.
func InputOf(a *structs.Assignment) (Input, string) {
	in := Input{Job: a.Job, MachineType: a.MachineType, Image: a.Image, Vault: a.Vault, APIURL: a.APIURL, APIKey: a.APIKey,
		PullSecret: a.PullSecret}
	if a.Identity != nil {
		in.Identity = *a.Identity
	}
	switch {
	case a.Problem != "":
		return in, a.Problem
	case a.Command == nil || a.Command.Path == "":
		return in, noCommand(a.Job)
	case a.MachineType == nil:
		return in, "protocol error: the assignment of job " + a.Job.ID + " carries no machine type"
	}
	in.Command = *a.Command
	return in, ""
}
