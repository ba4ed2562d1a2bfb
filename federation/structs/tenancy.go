package structs

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RaftIndex records the raft log indexes that created and last modified a
// stored object. The state store sets both; writers leave them zero.
type RaftIndex struct {
	CreateIndex uint64 `json:"create_index,omitempty"`
	ModifyIndex uint64 `json:"modify_index,omitempty"`
}

// GetRaftIndex returns r so the store can stamp any type embedding it.
func (r *RaftIndex) GetRaftIndex() *RaftIndex { return r }

// Tenant is a payer: users, teams, vaults, limits and jobs belong to one.
type Tenant struct {
	RaftIndex
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Isolated keeps this tenant's pods off nodes running other tenants' pods.
	Isolated bool `json:"isolated,omitempty"`
	Disabled bool `json:"disabled,omitempty"`
	// IDRange, set by a global administrator, holds the uids and gids of
	// the tenant's users: each user's uid and gid lie in it, no two users
	// share a uid, and the ranges of two tenants never overlap. Without
	// one, only a global administrator gives the tenant's users an
	// identity.
	IDRange IDRange `json:"id_range,omitzero"`
}

// MaxPOSIXID is the largest uid or gid an IDRange may hold.
const MaxPOSIXID = 1<<32 - 2

// IDRange is a range of POSIX ids, Min to Max inclusive; the zero value is
// no range.
type IDRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// IsZero reports whether r is no range.
func (r IDRange) IsZero() bool { return r == IDRange{} }

// Contains reports whether id lies in r.
func (r IDRange) Contains(id int) bool { return !r.IsZero() && r.Min <= id && id <= r.Max }

// Overlaps reports whether r and o share an id.
func (r IDRange) Overlaps(o IDRange) bool {
	return !r.IsZero() && !o.IsZero() && r.Min <= o.Max && o.Min <= r.Max
}

// String renders r as "min..max".
func (r IDRange) String() string { return strconv.Itoa(r.Min) + ".." + strconv.Itoa(r.Max) }

func (r IDRange) validate(tenant string) error {
	if !r.IsZero() && (r.Min < 1 || r.Min > r.Max || r.Max > MaxPOSIXID) {
		return invalidf("tenant %q: id range %s: want 1 <= min <= max <= %d", tenant, r, MaxPOSIXID)
	}
	return nil
}

// Copy returns a deep copy of t.
func (t *Tenant) Copy() *Tenant {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// Validate checks the fields a writer must supply.
func (t *Tenant) Validate() error {
	if err := validName("tenant", t.Name); err != nil {
		return err
	}
	return t.IDRange.validate(t.Name)
}

// Team is a group of users inside one tenant; team admins manage its limits
// and members.
type Team struct {
	RaftIndex
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	// Members are the users whose Teams name the team, derived when the
	// team is read: User.Teams is where membership is kept. A write that
	// lists members makes them exactly the team's members (see
	// fsm.TeamUpsert); one that lists none leaves the membership as it is.
	Members []string `json:"members,omitempty"` // usernames
	Admins  []string `json:"admins,omitempty"`  // usernames of its team administrators
}

// Copy returns a deep copy of t.
func (t *Team) Copy() *Team {
	if t == nil {
		return nil
	}
	c := *t
	c.Members = slices.Clone(t.Members)
	c.Admins = slices.Clone(t.Admins)
	return &c
}

// Validate checks the fields a writer must supply.
func (t *Team) Validate() error {
	if err := validName("team tenant", t.Tenant); err != nil {
		return err
	}
	return validName("team", t.Name)
}

// Role is a user's authority.
type Role string

// Roles, from most to least powerful.
const (
	RoleAdmin     Role = "admin"      // administers the whole tenant
	RoleTeamAdmin Role = "team-admin" // administers the teams listing the user in Admins
	RoleUser      Role = "user"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleTeamAdmin || r == RoleUser
}

// Identity is the POSIX identity a user's job processes run as.
type Identity struct {
	UID   int    `json:"uid"`
	GID   int    `json:"gid"`
	Group string `json:"group,omitempty"`
}

// APIKeyHash stores an API key without its secret: the public ID prefix the
// key starts with (used to find it) and the SHA-256 of the whole key.
type APIKeyHash struct {
	ID      string    `json:"id"`
	SHA256  string    `json:"sha256"` // lower-case hex
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created,omitzero"`
	// Session marks a portal session (a "fls_" key held in a cookie), not
	// an API key: it authenticates only the portal, until Expires.
	Session bool      `json:"session,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	// LastUsed is when the key last authenticated, to the hour.
	LastUsed time.Time `json:"last_used,omitzero"`
}

// HashAPIKey returns the stored form of key, whose public prefix is id.
func HashAPIKey(id, key string) APIKeyHash {
	sum := sha256.Sum256([]byte(key))
	return APIKeyHash{ID: id, SHA256: hex.EncodeToString(sum[:])}
}

// Matches reports, in constant time, whether key hashes to h.
func (h APIKeyHash) Matches(key string) bool {
	want, err := hex.DecodeString(h.SHA256)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	sum := sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(want, sum[:]) == 1
}

func (h APIKeyHash) validate(what string) error {
	if err := validName(what+" key id", h.ID); err != nil {
		return err
	}
	if b, err := hex.DecodeString(h.SHA256); err != nil || len(b) != sha256.Size {
		return invalidf("%s key %q: sha256 must be 64 hex digits", what, h.ID)
	}
	return nil
}

// User is a person or robot account of one tenant.
type User struct {
	RaftIndex
	Username string   `json:"username"`
	Email    string   `json:"email,omitempty"`
	Tenant   string   `json:"tenant"`
	Teams    []string `json:"teams,omitempty"`
	Groups   []string `json:"groups,omitempty"` // grant access to apps, data, machine types
	Role     Role     `json:"role"`
	Identity Identity `json:"identity"`
	// APIKeys are hashes; the plaintext is shown once at creation and never stored.
	APIKeys []APIKeyHash `json:"api_keys,omitempty"`
	// PasswordHash is a bcrypt hash, empty for SSO-only users.
	PasswordHash string `json:"password_hash,omitempty"`
	Disabled     bool   `json:"disabled,omitempty"`
}

// Copy returns a deep copy of u.
func (u *User) Copy() *User {
	if u == nil {
		return nil
	}
	c := *u
	c.Teams = slices.Clone(u.Teams)
	c.Groups = slices.Clone(u.Groups)
	c.APIKeys = slices.Clone(u.APIKeys)
	return &c
}

// Validate checks the fields a writer must supply.
func (u *User) Validate() error {
	if err := validName("username", u.Username); err != nil {
		return err
	}
	if strings.HasPrefix(u.Username, ServiceAccountPrefix) {
		return invalidf("username %q: the prefix %q names service accounts", u.Username, ServiceAccountPrefix)
	}
	if err := validName("user tenant", u.Tenant); err != nil {
		return err
	}
	if !u.Role.Valid() {
		return invalidf("user %q: role %q", u.Username, u.Role)
	}
	if u.Identity.UID < 0 || u.Identity.GID < 0 {
		return invalidf("user %q: negative uid/gid", u.Username)
	}
	if u.PasswordHash != "" && !strings.HasPrefix(u.PasswordHash, "$2") {
		return invalidf("user %q: password hash is not bcrypt", u.Username)
	}
	for i, k := range u.APIKeys {
		if err := k.validate("user " + u.Username); err != nil {
			return err
		}
		for _, prev := range u.APIKeys[:i] {
			if prev.ID == k.ID {
				return invalidf("user %q: duplicate api key id %q", u.Username, k.ID)
			}
		}
	}
	return nil
}

// validName checks an identifier: non-empty, at most 253 bytes, no control
// characters or NUL (the store uses NUL as a key separator).
func validName(what, s string) error {
	if s == "" {
		return invalidf("%s: empty", what)
	}
	if len(s) > 253 {
		return invalidf("%s: longer than 253 bytes", what)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return invalidf("%s %q: control character", what, s)
		}
	}
	return nil
}
