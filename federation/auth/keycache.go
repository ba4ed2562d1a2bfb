package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"slices"
	"sync"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/state"
)

// maxCachedKeys bounds the verified-key cache; past it, it starts over.
const maxCachedKeys = 10000

// identityTables are the tables a user key's identity is read from
// (identityOf): a write to any of them may change or revoke it.
var identityTables = [...]string{state.TableUsers, state.TableTenants, state.TableTeams}

// tableChanges are the change counters of identityTables
// (state.Store.Changes), read before the view an identity is built from.
type tableChanges [len(identityTables)]uint64

func identityChanges(s *state.Store) tableChanges {
	var ix tableChanges
	for i, t := range identityTables {
		ix[i] = s.Changes(t)
	}
	return ix
}

// keyCache remembers the user API keys already verified and the identity
// each gave, valid while the tables that identity was read from are
// unchanged: a request with a known key costs a hash and three atomic
// loads instead of reading and copying the user and the tenant. It holds
// the keys' SHA-256 sums, never the keys.
type keyCache struct {
	mu      sync.Mutex
	entries map[string]*cachedKey // by key id
}

type cachedKey struct {
	sum   [sha256.Size]byte
	at    tableChanges
	ident authz.Identity
}

// get returns a copy of the identity key gave when it was verified with
// the tables' change counters at at, if it was.
func (c *keyCache) get(id, key string, at tableChanges) (*authz.Identity, bool) {
	c.mu.Lock()
	e := c.entries[id]
	c.mu.Unlock()
	if e == nil || e.at != at {
		return nil, false
	}
	sum := sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare(sum[:], e.sum[:]) != 1 {
		return nil, false
	}
	return copyIdentity(&e.ident), true
}

// put records that key (of id) gave ident in a view opened after the
// tables' change counters were at.
func (c *keyCache) put(id, key string, at tableChanges, ident *authz.Identity) {
	e := &cachedKey{sum: sha256.Sum256([]byte(key)), at: at, ident: *copyIdentity(ident)}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxCachedKeys {
		c.entries = make(map[string]*cachedKey)
	}
	c.entries[id] = e
	c.mu.Unlock()
}

// copyIdentity copies a user's identity, its slices too: a caller may
// change what it is given.
func copyIdentity(id *authz.Identity) *authz.Identity {
	c := *id
	c.Teams = slices.Clone(id.Teams)
	c.AdminTeams = slices.Clone(id.AdminTeams)
	c.Groups = slices.Clone(id.Groups)
	return &c
}
