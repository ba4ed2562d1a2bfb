package api

import (
	"errors"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// write logs cmd and drops its result.
func (c *call) write(cmd fsm.Command) error {
	v, err := c.s.writes.Write(c.r.Context(), cmd)
	if ri, ok := v.(structs.RaftIndex); ok && err == nil {
		c.written = &ri // an upsert: see replyIndexes
	}
	return err
}

// fresh runs get on the local store; if it finds nothing, it makes the
// replica's view current (the object may have just been written through
// another replica) and runs it again.
func fresh[T any](c *call, get func(*state.ReadTxn) (T, error)) (T, error) {
	v, err := get(c.s.reads.Store().Read())
	if errors.Is(err, structs.ErrNotFound) {
		if cerr := c.s.reads.ConsistentRead(c.r.Context()); cerr != nil {
			return v, cerr
		}
		v, err = get(c.s.reads.Store().Read())
	}
	return v, err
}

// current runs get on a linearizable view, for read-modify-write updates.
func current[T any](c *call, get func(*state.ReadTxn) (T, error)) (T, error) {
	if err := c.s.reads.ConsistentRead(c.r.Context()); err != nil {
		var zero T
		return zero, err
	}
	return get(c.s.reads.Store().Read())
}

// optional turns ErrNotFound into a nil object.
func optional[T any](v *T, err error) (*T, error) {
	if errors.Is(err, structs.ErrNotFound) {
		return nil, nil
	}
	return v, err
}
