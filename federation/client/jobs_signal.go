package client

import (
	"context"
	"net/http"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// SignalJob sends a signal (a name such as "USR1" or a number) to a
// running job, to scope's processes (structs.SignalAll, the default when
// empty, or structs.SignalBatch); it returns the job, whose last Signals
// entry is the request. The job's pods deliver it shortly after.
func (c *Client) SignalJob(ctx context.Context, id, signal string, scope structs.SignalScope) (*structs.Job, error) {
	return call[structs.Job](ctx, c, http.MethodPost, "/v1/jobs/"+esc(id)+"/signal", nil,
		&structs.SignalRequest{Signal: signal, Scope: scope})
}
