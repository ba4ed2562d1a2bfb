package hub

import (
	"context"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/dispatch"
	"github.com/flotilla-hpc/flotilla/federation/placement"
)

// DispatchOptions configure the placement loop of a replica.
type DispatchOptions struct {
	Placement placement.Options
	// AcceptTimeout returns an assignment its agent did not take up in
	// time to the queue; 0 means never.
	AcceptTimeout time.Duration
	// Interval is the longest gap between passes (default 1 s).
	Interval time.Duration
}

// runDispatch runs the dispatcher until the replica stops; it acts only
// while this replica leads.
func (h *Hub) runDispatch(opts *DispatchOptions) {
	defer close(h.dispDone)
	if opts == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-h.stopped
		cancel()
	}()
	d := dispatch.New(dispatch.Config{
		Store: h.store, Writer: h, Leader: h.node.IsLeader, Now: h.now,
		Log:     h.log.With("component", "dispatch"),
		Options: opts.Placement, AcceptTimeout: opts.AcceptTimeout, Interval: opts.Interval,
		Observe: h.metrics.observePass,
	})
	d.Run(ctx)
}
