package runtime

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// InputOf returns the render input of an assigned job and, when the job
// cannot run, why: the hub's Problem.
func InputOf(a *structs.Assignment) (Input, string) {
	in := Input{Job: a.Job, MachineType: a.MachineType, Image: a.Image, Vault: a.Vault}
	if a.Command != nil {
		in.Command = *a.Command
	}
	if a.Identity != nil {
		in.Identity = *a.Identity
	}
	return in, a.Problem
}
