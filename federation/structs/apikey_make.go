package structs

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// AgentKeyPrefix marks a cluster agent's key ("fla_<id>_<secret>"). The
// hub makes one when an administrator asks for it; an agent registering
// with a bootstrap token makes its own (RegisterRequest.AgentKey), so
// that a registration whose reply was lost can be sent again.
const AgentKeyPrefix = "fla"

const (
	keyIDBytes     = 8  // 16 hex digits
	keySecretBytes = 32 // 64 hex digits
)

// NewKey makes a random key "<prefix>_<id>_<secret>" and its stored form
// (id and SHA-256, stamped with created). Show the key once; store only
// the hash.
func NewKey(prefix string, created time.Time) (key string, stored APIKeyHash) {
	var id [keyIDBytes]byte
	var secret [keySecretBytes]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	_, _ = rand.Read(secret[:])
	idHex := hex.EncodeToString(id[:])
	key = prefix + "_" + idHex + "_" + hex.EncodeToString(secret[:])
	stored = HashAPIKey(idHex, key)
	stored.Created = created.UTC()
	return key, stored
}

// ParseKey splits a key made by NewKey into its prefix and id. ok is false
// when key does not have that shape.
func ParseKey(key string) (prefix, id string, ok bool) {
	prefix, rest, ok1 := strings.Cut(key, "_")
	id, secret, ok2 := strings.Cut(rest, "_")
	if !ok1 || !ok2 || len(id) != 2*keyIDBytes || len(secret) != 2*keySecretBytes ||
		!isLowerHex(id) || !isLowerHex(secret) {
		return "", "", false
	}
	return prefix, id, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
