// Package hubsync imports federation/state: the agent reaching into the hub.
// federation/client and federation/structs are fine.
package hubsync

import (
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

var (
	_ *client.Client
	_ *state.Store
	_ structs.Job
)
