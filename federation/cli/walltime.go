package cli

import "github.com/flotilla-hpc/flotilla/federation/structs"

// parseWalltime reads --walltime, --time and --task-walltime in Slurm's
// forms (structs.ParseWalltime, which the portal's form reads too).
func parseWalltime(s string) (structs.Duration, error) { return structs.ParseWalltime(s) }
