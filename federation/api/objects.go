package api

import (
	"io"
	"strconv"

	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The shapes the object endpoints share: read one object or a list from
// the caller's view and keep what the caller may see; write or delete
// an object only global administrators manage. Handlers name the object,
// its check and its command; the steps are here once.

// readOne answers a GET of one object (or of a list shown whole): get
// reads it from the caller's view (see call.view), allowed — nil when
// everyone who reaches the route may — checks it.
func readOne[T any](c *call, get func(*state.ReadTxn) (T, error), allowed func(*state.ReadTxn, T) error) (T, error) {
	var zero T
	txn, err := c.view()
	if err != nil {
		return zero, err
	}
	v, err := get(txn)
	if err != nil {
		return zero, err
	}
	if allowed != nil {
		if err := allowed(txn, v); err != nil {
			return zero, err
		}
	}
	return v, nil
}

// readList answers a GET of a list: list reads it from the caller's
// view, show keeps (true) and presents each object the caller may see.
// An empty list is [], never null.
func readList[T, V any](c *call, list func(*state.ReadTxn) ([]T, error), show func(*state.ReadTxn, T) (V, bool)) (any, error) {
	out := []V{}
	_, err := readOne(c, list, func(txn *state.ReadTxn, all []T) error {
		for _, v := range all {
			if shown, ok := show(txn, v); ok {
				out = append(out, shown)
			}
		}
		return nil
	})
	return out, err
}

// allowedBy turns a check into readList's show, presenting objects as
// they are.
func allowedBy[T any](check func(T) error) func(*state.ReadTxn, T) (T, bool) {
	return func(_ *state.ReadTxn, v T) (T, bool) { return v, check(v) == nil }
}

// readTenantList is readList of a list of tenant objects: one tenant's
// (of) — the tenant ?tenant= names, which the caller must be in, else the
// caller's own — or, for a global administrator who names none, every
// tenant's (all).
func readTenantList[T, V any](c *call, all func(*state.ReadTxn) ([]T, error), of func(*state.ReadTxn, string) ([]T, error),
	show func(*state.ReadTxn, T) (V, bool)) (any, error) {
	tenant := c.r.URL.Query().Get("tenant")
	switch {
	case tenant != "":
		if err := c.id.CheckReadTenant(tenant); err != nil {
			return nil, err
		}
	case c.id.IsGlobalAdmin():
		return readList(c, all, show)
	default:
		tenant = c.id.Tenant
	}
	return readList(c, func(r *state.ReadTxn) ([]T, error) { return of(r, tenant) }, show)
}

// globalKind is a kind of object only global administrators write, every
// user reads: its endpoints (see routes). Its paths name an object by
// {name}, or by the path value key names.
type globalKind[T any] struct {
	what   string // in refusals: "burst rules"
	key    string
	list   func(*state.ReadTxn) ([]T, error)
	get    func(*state.ReadTxn, string) (T, error)
	decode func(io.Reader, string) (T, error)
	upsert func(T, structs.CAS) fsm.Command
	remove func(string, structs.CAS) fsm.Command
	// inUse, if set, refuses a delete while something the FSM does not
	// guard still needs the object (e.g. jobs in play naming a machine
	// type), so the refusal is a clear 409 instead of an object that
	// silently stops working.
	inUse func(*call, *state.ReadTxn, string) error
}

func (k globalKind[T]) name(c *call) string {
	if k.key != "" {
		return c.r.PathValue(k.key)
	}
	return c.r.PathValue("name")
}

func (k globalKind[T]) listAll(c *call) (any, error) { return readOne(c, k.list, nil) }

func (k globalKind[T]) getOne(c *call) (any, error) {
	name := k.name(c)
	return readOne(c, func(r *state.ReadTxn) (T, error) { return k.get(r, name) }, nil)
}

// put writes the object in the body with the caller's ?cas=N (see
// writeObject).
func (k globalKind[T]) put(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin(k.what); err != nil {
		return nil, err
	}
	v, err := k.decode(c.body(), k.name(c))
	if err != nil {
		return nil, err
	}
	return c.writeObject(v, func(cas structs.CAS) fsm.Command { return k.upsert(v, cas) })
}

// delete deletes the object with the caller's ?cas=N (see deleteObject).
func (k globalKind[T]) delete(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin(k.what); err != nil {
		return nil, err
	}
	name := k.name(c)
	if k.inUse != nil {
		if _, err := readOne(c, func(r *state.ReadTxn) (struct{}, error) { return struct{}{}, k.inUse(c, r, name) }, nil); err != nil {
			return nil, err
		}
	}
	return c.deleteObject(name, func(cas structs.CAS) fsm.Command { return k.remove(name, cas) })
}

// issueClusterSecret makes a new secret with prefix for the cluster named
// in the path and stores its hash, named label, in the slot of the cluster
// slot picks (its agent key, its bootstrap token), replacing the one
// there, by read-modify-write (see update). It returns the secret, shown
// this once, and what is stored of it. Global administrators only.
func (c *call) issueClusterSecret(prefix, label string, slot func(*structs.Cluster) *structs.APIKeyHash) (*structs.APIKeyCreated, error) {
	if err := c.id.CheckGlobalAdmin("clusters"); err != nil {
		return nil, err
	}
	name := c.r.PathValue("name")
	secret, stored := auth.NewKey(prefix, c.s.now())
	stored.Name = label + " of " + name
	err := update(c, nil, "cluster", name,
		func(r *state.ReadTxn) (*structs.Cluster, error) { return r.Cluster(name) },
		func(cl *structs.Cluster, cas structs.CAS) (fsm.Command, error) {
			switch {
			case cl == nil:
				return nil, structs.Errorf(structs.ErrNotFound, "cluster %q", name)
			case slot(cl).ID == stored.ID:
				return nil, nil // an attempt whose reply was lost stored it
			}
			*slot(cl) = stored
			return &fsm.ClusterUpsert{Cluster: *cl, CAS: cas}, nil
		})
	if err != nil {
		return nil, err
	}
	return &structs.APIKeyCreated{APIKeyInfo: structs.APIKeyInfo{ID: stored.ID, Name: stored.Name, Created: stored.Created},
		Key: secret}, nil
}

// flag reads the boolean query parameter name (absent: false); a value
// that is not a boolean is a 400.
func (c *call) flag(name string) (bool, error) {
	v := c.r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalid("%s: want true or false", name)
	}
	return on, nil
}
