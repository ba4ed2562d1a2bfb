package api

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Read-modify-write updates (a user's API keys, a cluster's registration,
// a team an admin may change...) read an object, change it and write the
// whole object back. Between the read and the write another request may
// change it; writing regardless would lose that change. So the write
// carries a compare-and-swap precondition (structs.CAS: the modify index
// read, or "absent"), the state machine refuses it if the object moved on,
// and the handler reads again and redoes its change.

// casAttempts bounds how often an update re-reads and retries after a
// concurrent change before it gives up with 409. Before retry n it pauses
// for a random time below casBackoff<<n (at most casBackoffMax), so that
// updates racing for one object spread out instead of colliding again in
// lockstep. (Twenty clients creating keys for one user at once through
// three replicas need up to about 9 attempts.)
const (
	casAttempts   = 20
	casBackoff    = 2 * time.Millisecond
	casBackoffMax = 100 * time.Millisecond
)

// casQuery parses the optional ?cas=N of a PUT: N is the modify index of
// the object the caller read (as GET returned it), 0 that it must not
// exist yet. nil when the query does not ask for it.
func (c *call) casQuery() (*structs.CAS, error) {
	q := c.r.URL.Query()
	if !q.Has("cas") {
		return nil, nil
	}
	n, err := strconv.ParseUint(q.Get("cas"), 10, 64)
	if err != nil {
		return nil, invalid("cas: want the modify index the object was read at (0: create only)")
	}
	if n == 0 {
		return &structs.CAS{ExpectAbsent: true}, nil
	}
	return &structs.CAS{ExpectModifyIndex: n}, nil
}

// indexed is a pointer to a stored object type.
type indexed[T any] interface {
	*T
	GetRaftIndex() *structs.RaftIndex
}

// update carries out a read-modify-write of one object. It reads the
// object with get on a linearizable view (nil when absent), lets change
// build the write from it, and logs that write with cas, the
// precondition that the object is still the one read; change must put cas
// into the command. If a concurrent write changed the object in between,
// the state machine refuses, and update reads again and calls change
// again (after a short random pause), at most casAttempts times, then
// returns ErrConflict. A conflict of another kind (the object did not
// move) is returned as it is.
//
// change may return a nil command: nothing is (left) to write, e.g.
// because an attempt whose reply was lost already applied the change. Its
// errors are returned as they are.
//
// With want (a caller's ?cas=N) there is no retry: the object read must
// match want, and the write is refused if it changes before it applies.
// what names the object in errors, e.g. "user", name its key.
func update[T any, P indexed[T]](c *call, want *structs.CAS, what, name string,
	get func(*state.ReadTxn) (P, error), change func(old P, cas structs.CAS) (fsm.Command, error)) error {
	var last structs.CAS
	var lastErr error
	for attempt := range casAttempts {
		if attempt > 0 {
			if err := c.pause(rand.N(min(casBackoff<<attempt, casBackoffMax))); err != nil {
				return err
			}
		}
		old, err := optional(current(c, func(r *state.ReadTxn) (*T, error) { return get(r) }))
		if err != nil {
			return err
		}
		var have *structs.RaftIndex
		if old != nil {
			have = P(old).GetRaftIndex()
		}
		cas := structs.CASOf(have)
		if want != nil {
			if err := want.Check(have, what, name); err != nil {
				return err
			}
		} else if attempt > 0 && cas == last {
			return lastErr // the object did not move: the refusal was not the precondition's
		}
		cmd, err := change(old, cas)
		if err != nil || cmd == nil {
			return err
		}
		err = c.write(cmd)
		if err == nil || want != nil || !errors.Is(err, structs.ErrConflict) {
			return err
		}
		last, lastErr = cas, err
	}
	return structs.Errorf(structs.ErrConflict, "%s %q kept changing concurrently; gave up after %d attempts, try again",
		what, name, casAttempts)
}

// orNone returns *want, or no condition when want is nil: a PUT that
// replaces an object with the request body as it is needs no read, only
// the caller's own ?cas=N.
func orNone(want *structs.CAS) structs.CAS {
	if want == nil {
		return structs.CAS{}
	}
	return *want
}

// pause waits for d or until the request ends.
func (c *call) pause(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.r.Context().Done():
		return c.r.Context().Err()
	case <-t.C:
		return nil
	}
}

// deleteCAS parses the optional ?cas=N of a DELETE: the modify index the
// caller read; the delete applies only if the object still has it.
func (c *call) deleteCAS() (*structs.CAS, error) {
	want, err := c.casQuery()
	if err == nil && want != nil && want.ExpectAbsent {
		return nil, invalid("cas: a delete needs the modify index the object was read at (> 0)")
	}
	return want, err
}

// deleteChecked deletes the object get reads once allowed says the caller
// may, on condition that it is still the object checked: if it changed in
// between (say, moved to another tenant), it is read and checked again
// (see update). A caller's ?cas=N must match too.
func deleteChecked[T any, P indexed[T]](c *call, what, name string, get func(*state.ReadTxn) (P, error),
	allowed func(P) error, del func(structs.CAS) fsm.Command) (any, error) {
	want, err := c.deleteCAS()
	if err != nil {
		return nil, err
	}
	err = update(c, want, what, name, get, func(old P, cas structs.CAS) (fsm.Command, error) {
		if old == nil {
			return nil, structs.Errorf(structs.ErrNotFound, "%s %q", what, name)
		}
		if err := allowed(old); err != nil {
			return nil, err
		}
		return del(cas), nil
	})
	if err != nil {
		return nil, err
	}
	return &structs.Deleted{Deleted: name}, nil
}

// replaceChecked writes obj in place of the object get reads (if any),
// once allowed says the caller may write both — obj, checked first, and
// the object it replaces — on condition that the replaced object is still
// the one checked (see update); a caller's ?cas=N must match too. more
// (nil: none) checks obj against the linearizable view update read, e.g.
// that the objects it names exist. It replies with obj.
func replaceChecked[T any, P indexed[T]](c *call, what, name string, obj P, get func(*state.ReadTxn) (P, error),
	allowed func(P) error, more func(*state.ReadTxn) error, cmd func(structs.CAS) fsm.Command) (any, error) {
	if err := allowed(obj); err != nil {
		return nil, err
	}
	want, err := c.casQuery()
	if err != nil {
		return nil, err
	}
	err = update(c, want, what, name, get, func(old P, cas structs.CAS) (fsm.Command, error) {
		if old != nil {
			if err := allowed(old); err != nil {
				return nil, err
			}
		}
		if more != nil {
			if err := more(c.s.reads.Store().Read()); err != nil {
				return nil, err
			}
		}
		return cmd(cas), nil
	})
	return obj, err
}

// writeObject logs the upsert cmd builds for obj, which the caller has
// checked and may write, on the caller's ?cas=N (none: unconditional), and
// replies with obj.
func (c *call) writeObject(obj any, cmd func(structs.CAS) fsm.Command) (any, error) {
	want, err := c.casQuery()
	if err != nil {
		return nil, err
	}
	return obj, c.write(cmd(orNone(want)))
}

// deleteObject logs the delete cmd builds for the object name, which the
// caller may delete, on the caller's ?cas=N (none: unconditional).
func (c *call) deleteObject(name string, cmd func(structs.CAS) fsm.Command) (any, error) {
	want, err := c.deleteCAS()
	if err != nil {
		return nil, err
	}
	return &structs.Deleted{Deleted: name}, c.write(cmd(orNone(want)))
}
