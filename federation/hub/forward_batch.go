package hub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// forwardGrouped forwards b through the write group g of a batch call:
// the group sends the items' commands to the leader at base in one call
// (sendGroup) and hands this write its own outcome.
func (h *Hub) forwardGrouped(ctx context.Context, g *api.WriteGroup, base string, b []byte, deadline time.Time) (any, uint64, error) {
	return g.Forward(ctx, b, func(ws []*api.GroupWrite) {
		fctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		h.sendGroup(fctx, base, ws)
	})
}

// sendGroup applies the commands of ws on the leader at base in one call
// of its apply-batch endpoint and completes each write with its own
// outcome, as forwardApply would have (a failure of the whole call is
// every write's). A leader without the endpoint (an older hub) gets the
// commands one call each. Like forwardApply, it then waits (once) until
// this replica applied what the leader acknowledged.
func (h *Hub) sendGroup(ctx context.Context, base string, ws []*api.GroupWrite) {
	defer func() {
		for _, w := range ws {
			w.Done()
		}
	}()
	cmds := make([][]byte, len(ws))
	for i, w := range ws {
		cmds[i] = w.Cmd
	}
	var reply api.InternalApplyBatchReply
	pc := peerCall{base: base, path: api.InternalApplyBatchPath, body: api.AppendCommands(nil, cmds),
		contentType: "application/octet-stream"}
	err := h.callPeer(ctx, pc, &reply)
	switch {
	case errors.Is(err, errNoEndpoint):
		h.sendEach(ctx, base, ws)
		return
	case err != nil:
		err = h.forwarded(base, pc.path, err)
	case len(reply.Results) != len(ws):
		err = &forwardError{leader: base, ambiguous: true,
			err: fmt.Errorf("%d results for %d commands", len(reply.Results), len(ws))}
	}
	if err != nil {
		for _, w := range ws {
			w.Err = err
		}
		return
	}
	var last uint64
	for i, w := range ws {
		r := &reply.Results[i]
		w.Val, w.Index, w.Err = h.groupOutcome(pc, w.Cmd, r)
		last = max(last, w.Index)
	}
	h.waitForwarded(ctx, last)
}

// groupOutcome is one command's outcome in an apply-batch reply.
func (h *Hub) groupOutcome(pc peerCall, cmd []byte, r *api.InternalApplyItem) (any, uint64, error) {
	if r.Index == 0 {
		err := h.peerError(pc, r.Status, structs.ErrorBody{Error: r.Error})
		return nil, 0, h.forwarded(pc.base, pc.path, err)
	}
	if r.Error != "" {
		return nil, r.Index, api.RemoteError(structs.KindNamed(r.Kind), r.Error)
	}
	val, err := fsm.DecodeResult(fsm.CommandType(cmd[1]), r.Result)
	if err != nil {
		return nil, r.Index, fmt.Errorf("hub: leader at %s: bad result: %w", pc.base, err)
	}
	return val, r.Index, nil
}

// sendEach is sendGroup for a leader without the apply-batch endpoint.
func (h *Hub) sendEach(ctx context.Context, base string, ws []*api.GroupWrite) {
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.Val, w.Index, w.Err = h.forwardApply(ctx, base, w.Cmd) })
	}
	wg.Wait()
	var last uint64
	for _, w := range ws {
		last = max(last, w.Index)
	}
	h.waitForwarded(ctx, last)
}

// waitForwarded lets a read on this replica see a write the leader
// acknowledged at index (Config.ForwardApplyWait).
func (h *Hub) waitForwarded(ctx context.Context, index uint64) {
	if index == 0 || h.cfg.ForwardApplyWait <= 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, h.cfg.ForwardApplyWait)
	_ = h.node.WaitApplied(wctx, index)
	cancel()
}
