package state

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// A tenant's id range (structs.Tenant.IDRange) holds the uids and gids of
// its users. The checks below run in the state machine, so that two
// concurrent writes cannot both take one uid; tenants without a range
// (all tenants written before ranges existed) are not checked, so a log
// written then applies as it did.

// checkIDRange checks tenant t's range before t is stored: it overlaps no
// other tenant's range; no user of another tenant holds an id in it; the
// identities of t's users lie in it and are unique in it (see
// checkIdentity). A refusal is ErrConflict naming what is in the way.
func (w *WriteTxn) checkIDRange(t *structs.Tenant) error {
	r := t.IDRange
	if r.IsZero() {
		return nil
	}
	tenants, err := listAll[*structs.Tenant](w.txn, TableTenants, "id")
	if err != nil {
		return err
	}
	for _, o := range tenants {
		if o.Name != t.Name && r.Overlaps(o.IDRange) {
			return structs.Errorf(structs.ErrConflict, "tenant %q: id range %s overlaps tenant %q's %s",
				t.Name, r, o.Name, o.IDRange)
		}
	}
	it, err := w.txn.Get(TableUsers, "id")
	if err != nil {
		return err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		u := raw.(*structs.User)
		if u.Tenant != t.Name {
			if r.Contains(u.Identity.UID) || r.Contains(u.Identity.GID) {
				return structs.Errorf(structs.ErrConflict, "tenant %q: id range %s holds the uid/gid of user %q of tenant %q",
					t.Name, r, u.Username, u.Tenant)
			}
			continue
		}
		if err := w.checkIdentity(t, u); err != nil {
			return structs.Errorf(structs.ErrConflict, "tenant %q: id range %s: %v", t.Name, r, err)
		}
	}
	return nil
}

// checkIdentity checks user u's uid and gid, unless both are 0 (no
// identity): they do not lie in another tenant's range; if u's tenant t
// has a range, both lie in it (else ErrInvalid), no other user of t has
// u's uid, and none has u's gid unless both name the same group
// (Identity.Group): a gid is one group's (else ErrConflict).
func (w *WriteTxn) checkIdentity(t *structs.Tenant, u *structs.User) error {
	id := u.Identity
	if id.UID == 0 && id.GID == 0 {
		return nil
	}
	tenants, err := listAll[*structs.Tenant](w.txn, TableTenants, "id")
	if err != nil {
		return err
	}
	for _, o := range tenants {
		if o.Name != u.Tenant && (o.IDRange.Contains(id.UID) || o.IDRange.Contains(id.GID)) {
			return structs.Errorf(structs.ErrConflict, "user %q: uid %d / gid %d lie in tenant %q's id range %s",
				u.Username, id.UID, id.GID, o.Name, o.IDRange)
		}
	}
	r := t.IDRange
	if r.IsZero() {
		return nil
	}
	if !r.Contains(id.UID) || !r.Contains(id.GID) {
		return structs.Errorf(structs.ErrInvalid, "user %q: uid %d / gid %d outside tenant %q's id range %s",
			u.Username, id.UID, id.GID, t.Name, r)
	}
	for _, by := range [...]struct {
		index string
		id    int
	}{{"uid", id.UID}, {"gid", id.GID}} {
		it, err := w.txn.Get(TableUsers, by.index, u.Tenant, uint64(by.id))
		if err != nil {
			return err
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			o := raw.(*structs.User)
			if o.Username == u.Username {
				continue
			}
			if by.index == "gid" && id.Group != "" && o.Identity.Group == id.Group {
				continue // one group, shared on purpose
			}
			what := "uid"
			if by.index == "gid" {
				what = "gid (users share a gid only under one group name)"
			}
			return structs.Errorf(structs.ErrConflict, "user %q: %s %d is user %q's", u.Username, what, by.id, o.Username)
		}
	}
	return nil
}
