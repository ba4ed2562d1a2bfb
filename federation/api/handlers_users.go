package api

import (
	"errors"
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func (s *Server) listUsers(c *call) (any, error) {
	return readTenantList(c, (*state.ReadTxn).Users, (*state.ReadTxn).UsersByTenant,
		func(_ *state.ReadTxn, u *structs.User) (*structs.UserView, bool) {
			return structs.NewUserView(u), c.id.CheckReadUser(u) == nil
		})
}

func (s *Server) getUser(c *call) (any, error) {
	name := c.r.PathValue("username")
	u, err := readOne(c, func(r *state.ReadTxn) (*structs.User, error) { return r.User(name) },
		func(_ *state.ReadTxn, u *structs.User) error { return c.id.CheckReadUser(u) })
	if err != nil {
		return nil, err
	}
	return structs.NewUserView(u), nil
}

func (s *Server) putUser(c *call) (any, error) {
	name := c.r.PathValue("username")
	spec, err := decodeUserSpec(c.body())
	if err != nil {
		return nil, err
	}
	want, err := c.casQuery()
	if err != nil {
		return nil, err
	}
	// The stored user's API keys and password hash are kept: write only
	// if it is still the user read, else read again (a key created
	// meanwhile must not be dropped).
	var next *structs.User
	var hash string // of spec.Password, computed once
	err = update(c, want, "user", name,
		func(r *state.ReadTxn) (*structs.User, error) { return r.User(name) },
		func(old *structs.User, cas structs.CAS) (fsm.Command, error) {
			next = &structs.User{Username: name, Tenant: spec.Tenant, Email: spec.Email, Teams: spec.Teams,
				Groups: spec.Groups, Role: spec.Role, Identity: spec.Identity, Disabled: spec.Disabled}
			if old != nil {
				next.APIKeys, next.PasswordHash = old.APIKeys, old.PasswordHash
			}
			if next.Disabled {
				next.APIKeys = nil // disabling revokes every key: enabling again revives none
			}
			if err := next.Validate(); err != nil {
				return nil, err
			}
			// update read linearizably: the teams may have just been made.
			txn := s.reads.Store().Read()
			if err := checkTeamsExist(txn, next.Tenant, next.Teams); err != nil {
				return nil, err
			}
			if err := c.id.CheckWriteUser(old, next); err != nil {
				return nil, err
			}
			tenant, err := optional(txn.Tenant(next.Tenant))
			if err != nil {
				return nil, err
			}
			if err := c.id.CheckSetIdentity(tenant, old, next); err != nil {
				return nil, err
			}
			if spec.Password != "" {
				if err := c.id.CheckCredentials(next); err != nil {
					return nil, err
				}
				if hash == "" {
					var err error
					if hash, err = auth.HashPassword(spec.Password, s.authn.BcryptCost()); err != nil {
						return nil, err
					}
				}
				next.PasswordHash = hash
			}
			return &fsm.UserUpsert{User: *next, CAS: cas}, nil
		})
	if err != nil {
		return nil, err
	}
	return structs.NewUserView(next), nil
}

func checkTeamsExist(txn *state.ReadTxn, tenant string, teams []string) error {
	for i, t := range teams {
		if slices.Contains(teams[:i], t) {
			return invalid("team %q listed twice", t)
		}
		if _, err := txn.Team(tenant, t); err != nil {
			if errors.Is(err, structs.ErrNotFound) {
				return invalid("unknown team %q of tenant %q", t, tenant)
			}
			return err
		}
	}
	return nil
}

func (s *Server) deleteUser(c *call) (any, error) {
	name := c.r.PathValue("username")
	return deleteChecked(c, "user", name, func(r *state.ReadTxn) (*structs.User, error) { return r.User(name) },
		func(old *structs.User) error { return c.id.CheckWriteUser(old, nil) },
		func(cas structs.CAS) fsm.Command { return &fsm.UserDelete{Username: name, CAS: cas} })
}

// keyOwner returns the user named in the path, read linearizably (a key
// just created shows), once the caller may manage their credentials.
func (c *call) keyOwner() (*structs.User, error) {
	name := c.r.PathValue("username")
	u, err := current(c, func(r *state.ReadTxn) (*structs.User, error) { return r.User(name) })
	if err != nil {
		return nil, err
	}
	return u, c.id.CheckCredentials(u)
}

func (s *Server) listAPIKeys(c *call) (any, error) {
	u, err := c.keyOwner()
	if err != nil {
		return nil, err
	}
	return structs.NewUserView(u).APIKeys, nil
}

// updateKeys changes the API keys of the user named in the path, once the
// caller may manage their credentials, by read-modify-write (see update): edit changes
// the keys of the user as read (a copy), or returns false when nothing is left to
// change. Two requests changing one user's keys at once both take effect.
func (c *call) updateKeys(edit func(u *structs.User) ([]structs.APIKeyHash, bool, error)) error {
	name := c.r.PathValue("username")
	return update(c, nil, "user", name,
		func(r *state.ReadTxn) (*structs.User, error) { return r.User(name) },
		func(u *structs.User, cas structs.CAS) (fsm.Command, error) {
			if u == nil {
				return nil, structs.Errorf(structs.ErrNotFound, "user %q", name)
			}
			if err := c.id.CheckCredentials(u); err != nil {
				return nil, err
			}
			keys, changed, err := edit(u)
			if err != nil || !changed {
				return nil, err
			}
			u.APIKeys = keys
			return &fsm.UserUpsert{User: *u, CAS: cas}, nil
		})
}

func (s *Server) createAPIKey(c *call) (any, error) {
	req, err := decodeAPIKeyRequest(c.body())
	if errors.Is(err, errEmptyBody) {
		req, err = &structs.APIKeyRequest{}, nil
	}
	if err != nil {
		return nil, err
	}
	key, stored := auth.NewKey(auth.UserKeyPrefix, s.now())
	stored.Name = req.Name
	err = c.updateKeys(func(u *structs.User) ([]structs.APIKeyHash, bool, error) {
		keys := u.APIKeys
		if slices.ContainsFunc(keys, func(k structs.APIKeyHash) bool { return k.ID == stored.ID }) {
			return nil, false, nil // an attempt whose reply was lost added it
		}
		if u.Disabled {
			return nil, false, structs.Errorf(structs.ErrConflict, "user %q is disabled: enable them first", u.Username)
		}
		return append(keys, stored), true, nil
	})
	if err != nil {
		return nil, err
	}
	return &structs.APIKeyCreated{
		APIKeyInfo: structs.APIKeyInfo{ID: stored.ID, Name: stored.Name, Created: stored.Created},
		Key:        key,
	}, nil
}

func (s *Server) revokeAPIKey(c *call) (any, error) {
	id := c.r.PathValue("id")
	tried := false
	err := c.updateKeys(func(u *structs.User) ([]structs.APIKeyHash, bool, error) {
		keys := u.APIKeys
		i := slices.IndexFunc(keys, func(k structs.APIKeyHash) bool { return k.ID == id })
		switch {
		case i < 0 && tried:
			return nil, false, nil // gone: an earlier attempt (or a concurrent revoke) removed it
		case i < 0:
			return nil, false, structs.Errorf(structs.ErrNotFound, "api key %q of user %q", id, c.r.PathValue("username"))
		}
		tried = true
		return slices.Delete(keys, i, i+1), true, nil
	})
	if err != nil {
		return nil, err
	}
	return &structs.Deleted{Deleted: id}, nil
}
