package api

import (
	"context"
	"sync"
)

// A WriteGroup gathers the writes that the items of one batch call
// (POST /v1/jobs/batch) make on a replica that forwards writes to the
// leader, so that they travel in one forwarded call instead of one call
// each. The batch handler puts it in the call's context (WriteGroupOf);
// the replica's write path hands each item's encoded command to Forward.
//
// The group sends what it holds once every writer in flight waits in it.
// The batch handler counts its workers (Start when one begins, Finish
// when it has no item left), not its items, so that a worker moving on
// to its next item stays counted; a worker waiting for something other
// than the group (an earlier item's outcome, the replica's admission
// slots) does not count meanwhile (Block, Unblock). A worker whose item
// fails before writing, or writes on the leader itself, just moves on.
// Each write gets its own outcome.
type WriteGroup struct {
	mu      sync.Mutex
	running int           // items in flight
	queued  []*GroupWrite // waiting to be sent
	send    func([]*GroupWrite)
}

// GroupWrite is one command waiting in a WriteGroup. The sender sets Val,
// Index and Err, then calls Done.
type GroupWrite struct {
	Cmd   []byte
	Val   any
	Index uint64
	Err   error
	done  chan struct{}
}

// Done hands w's outcome to its writer.
func (w *GroupWrite) Done() { close(w.done) }

type writeGroupKey struct{}

// WriteGroupOf returns the write group of the batch call ctx belongs to,
// nil if none.
func WriteGroupOf(ctx context.Context) *WriteGroup {
	g, _ := ctx.Value(writeGroupKey{}).(*WriteGroup)
	return g
}

// withWriteGroup returns ctx carrying g.
func withWriteGroup(ctx context.Context, g *WriteGroup) context.Context {
	return context.WithValue(ctx, writeGroupKey{}, g)
}

// Start counts a writer in flight.
func (g *WriteGroup) Start() {
	g.mu.Lock()
	g.running++
	g.mu.Unlock()
}

// Finish counts a writer out; the group may then send what waits.
func (g *WriteGroup) Finish() {
	g.mu.Lock()
	g.running--
	batch, send := g.ready()
	g.mu.Unlock()
	if batch != nil {
		send(batch)
	}
}

// Block counts a writer out while it waits for something else than the
// group; Unblock counts it in again.
func (g *WriteGroup) Block() { g.Finish() }

// Unblock ends Block.
func (g *WriteGroup) Unblock() { g.Start() }

// ready takes the queued writes when every item in flight waits among
// them (g.mu held).
func (g *WriteGroup) ready() ([]*GroupWrite, func([]*GroupWrite)) {
	if len(g.queued) == 0 || len(g.queued) < g.running {
		return nil, nil
	}
	batch := g.queued
	g.queued = nil
	return batch, g.send
}

// Forward queues cmd, made by a writer in flight (between Start and
// Finish), and waits for its outcome. send sends a batch of writes and
// completes each (GroupWrite.Done); it runs in the goroutine of the write
// or the finish that completes the batch. If ctx ends first, the write
// leaves the group if not sent yet, else its outcome is unknown.
func (g *WriteGroup) Forward(ctx context.Context, cmd []byte, send func([]*GroupWrite)) (any, uint64, error) {
	w := &GroupWrite{Cmd: cmd, done: make(chan struct{})}
	g.mu.Lock()
	g.send = send
	g.queued = append(g.queued, w)
	batch, sendNow := g.ready()
	g.mu.Unlock()
	if batch != nil {
		sendNow(batch)
	}
	select {
	case <-w.done:
		return w.Val, w.Index, w.Err
	case <-ctx.Done():
	}
	g.mu.Lock()
	for i, q := range g.queued {
		if q == w {
			g.queued = append(g.queued[:i], g.queued[i+1:]...)
			g.mu.Unlock()
			return nil, 0, ctx.Err() // never sent
		}
	}
	g.mu.Unlock()
	return nil, 0, context.Cause(ctx)
}
