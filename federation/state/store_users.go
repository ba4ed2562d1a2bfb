package state

import (
	"errors"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// User returns the named user or ErrNotFound.
func (r *ReadTxn) User(username string) (*structs.User, error) {
	return getByID[*structs.User](r.txn, TableUsers, "user", username)
}

// Users returns every user, by username.
func (r *ReadTxn) Users() ([]*structs.User, error) {
	return listAll[*structs.User](r.txn, TableUsers, "id")
}

// UsersByTenant returns a tenant's users, by username.
func (r *ReadTxn) UsersByTenant(tenant string) ([]*structs.User, error) {
	return listAll[*structs.User](r.txn, TableUsers, "tenant", tenant)
}

// UserByAPIKeyID returns the user holding the API key with the given public
// ID, or ErrNotFound. The caller checks the secret with APIKeyHash.Matches.
func (r *ReadTxn) UserByAPIKeyID(id string) (*structs.User, error) {
	raw, err := r.txn.First(TableUsers, "apikey", id)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, notFound("api key", id)
	}
	return raw.(*structs.User).Copy(), nil
}

// UpsertUser creates or replaces a user of an existing tenant if the stored
// one meets cas. API key IDs must not belong to another user; the user's
// uid and gid must fit the id ranges (see checkIdentity).
func (w *WriteTxn) UpsertUser(u *structs.User, cas structs.CAS) error {
	if err := u.Validate(); err != nil {
		return err
	}
	t, err := refByID[*structs.Tenant](w.txn, TableTenants, "tenant", u.Tenant)
	if errors.Is(err, structs.ErrNotFound) {
		return structs.Errorf(structs.ErrInvalid, "unknown tenant %q", u.Tenant)
	} else if err != nil {
		return err
	}
	if err := w.checkIdentity(t, u); err != nil {
		return err
	}
	for _, k := range u.APIKeys {
		raw, err := w.txn.First(TableUsers, "apikey", k.ID)
		if err != nil {
			return err
		}
		if raw != nil && raw.(*structs.User).Username != u.Username {
			return structs.Errorf(structs.ErrConflict, "api key id %q is taken", k.ID)
		}
	}
	return w.upsert(tUsers, u.Copy(), cas, "user", u.Username)
}

// DeleteUser deletes a user.
func (w *WriteTxn) DeleteUser(username string) error {
	return w.remove(tUsers, "user", username)
}
