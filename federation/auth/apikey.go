package auth

import (
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Key prefixes: the kind of credential a key is.
const (
	UserKeyPrefix  = "flk"                  // a user's API key
	AgentKeyPrefix = structs.AgentKeyPrefix // a cluster agent's key
	// ServiceKeyPrefix marks a service account's API key.
	ServiceKeyPrefix = "fsa"
	// BootstrapPrefix marks a cluster's one-time bootstrap token, which its
	// agent exchanges for an agent key (POST /v1/clusters/{name}/register).
	BootstrapPrefix = "flb"
)

// NewKey makes a random key "<prefix>_<id>_<secret>" and its stored form
// (id and SHA-256, stamped with created). Show the key once; store only the
// hash.
func NewKey(prefix string, created time.Time) (key string, stored structs.APIKeyHash) {
	return structs.NewKey(prefix, created)
}

// ParseKey splits a key made by NewKey into its prefix and id. ok is false
// when key does not have that shape.
func ParseKey(key string) (prefix, id string, ok bool) { return structs.ParseKey(key) }
