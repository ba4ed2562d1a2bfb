package auth

import (
	"errors"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// SessionPrefix marks a portal session key ("fls_<id>_<secret>"), held in
// the browser's cookie. Sessions are stored like API keys, on the user's
// record (structs.APIKeyHash with Session set): only the hash, so every
// replica can check a session, and removing the entry (logout, or the
// user disabled) ends it on every replica. A session key is never
// accepted as an API key, nor an API key as a session.
const SessionPrefix = "fls"

// NewSession makes a session key for a user and its stored form, valid
// until created+ttl.
func NewSession(created time.Time, ttl time.Duration) (key string, stored structs.APIKeyHash) {
	key, stored = NewKey(SessionPrefix, created)
	stored.Name = "portal session"
	stored.Session = true
	stored.Expires = created.UTC().Add(ttl)
	return key, stored
}

// Session authenticates a portal session key at now. A well-formed key
// whose id this replica does not know yields ErrUnknownKey (the replica
// may lag the write that made it).
func (a *Authenticator) Session(key string, now time.Time) (*authz.Identity, *structs.APIKeyHash, error) {
	prefix, id, ok := ParseKey(key)
	if !ok || prefix != SessionPrefix {
		return nil, nil, unauthorized("invalid session")
	}
	txn := a.store.Read()
	u, err := txn.UserByAPIKeyID(id)
	if errors.Is(err, structs.ErrNotFound) {
		return nil, nil, ErrUnknownKey
	} else if err != nil {
		return nil, nil, err
	}
	for i := range u.APIKeys {
		k := &u.APIKeys[i]
		if k.ID != id || !k.Session || !k.Matches(key) {
			continue
		}
		if !now.Before(k.Expires) {
			return nil, nil, unauthorized("session expired")
		}
		ident, err := identityOf(txn, u, a.system)
		if err != nil {
			return nil, nil, err
		}
		return ident, k, nil
	}
	return nil, nil, unauthorized("invalid session")
}

// SessionID returns the public id of a well-formed session key, "" else.
func SessionID(key string) string {
	prefix, id, ok := ParseKey(key)
	if !ok || prefix != SessionPrefix {
		return ""
	}
	return id
}
