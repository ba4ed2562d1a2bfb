package client

import (
	"net/url"
	"strconv"
)

// WriteOption adjusts a PUT or DELETE of an administrative object.
type WriteOption func(q url.Values)

// CAS makes a PUT a compare-and-swap: it applies only if the object is
// still stored with the given modify index (its ModifyIndex as a GET
// returned it), and with index 0 only if no such object exists yet (create
// only). Otherwise the hub changes nothing and the call fails with a 409
// error matching structs.ErrConflict: read the object again and redo the
// change. Note that a conditional write the client retried after a lost
// reply (see the package doc) can report a conflict caused by its own
// first attempt. On a DELETE the index must be the object's (> 0): it is
// deleted only if it was not changed since.
func CAS(index uint64) WriteOption {
	return func(q url.Values) { q.Set("cas", strconv.FormatUint(index, 10)) }
}

// writeQuery returns the query of a write with opts, nil when there is none.
func writeQuery(opts []WriteOption) url.Values {
	if len(opts) == 0 {
		return nil
	}
	q := url.Values{}
	for _, o := range opts {
		o(q)
	}
	return q
}

// Force makes a DELETE go through where the hub would refuse it for what
// the object is still needed by outside the state's own references (a
// machine type jobs waiting for placement ask for): those jobs then wait
// with a reason naming the missing object.
func Force() WriteOption { return func(q url.Values) { q.Set("force", "true") } }
