// Package quota is a new pure package without an allow-list.
package quota

import "github.com/flotilla-hpc/flotilla/federation/structs"

// Zero is no job.
var Zero structs.Job
