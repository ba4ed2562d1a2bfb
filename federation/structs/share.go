package structs

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"
)

// Share links of interactive jobs. A share link is a second token that
// opens a running interactive job, handed out by whoever may control the
// job (its owner, its team's and tenant's administrators). The hub makes
// the token, returns it once and keeps only its SHA-256 on the job
// (Job.Shares, raft command JobShares); the job's cluster agent writes
// the hashes into the job's j<N>-shares Secret, whose files the job's
// token guard checks. Revoking a link removes it from the job, the agent
// removes it from the Secret, and the guard refuses it and its cookies.

// ShareTokenPrefix starts every share token.
const ShareTokenPrefix = "fjs_"

// MaxJobShares bounds the live share links of one job.
const MaxJobShares = 32

// MaxShareLabel bounds a share link's label.
const MaxShareLabel = 200

// ShareHashPrefix starts the hash of a share token as the Secret holds
// it: "sha256:" and 64 lowercase hex digits.
const ShareHashPrefix = "sha256:"

// goodShareName says whether name is a share link's name: a Secret key
// the guard reads as a file name (lowercase letters, digits and '-', 1 to
// 40 characters, starting and ending with a letter or digit).
func goodShareName(name string) bool {
	if len(name) == 0 || len(name) > 40 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// JobShare is one live share link of a job (Job.Shares): never its token.
type JobShare struct {
	Name  string `json:"name"`
	Label string `json:"label,omitempty"`
	// TokenHash is ShareHashPrefix + the token's SHA-256 in hex: what the
	// agent writes for the guard. The token itself is nowhere.
	TokenHash string    `json:"token_hash"`
	By        string    `json:"by,omitempty"` // who created it
	Created   time.Time `json:"created"`
	// Expires, when set, is when the link stops opening the job.
	Expires *time.Time `json:"expires,omitempty"`
}

// Live reports whether s opens its job at now.
func (s *JobShare) Live(now time.Time) bool { return s.Expires == nil || now.Before(*s.Expires) }

// ShareCreateRequest is the body of POST /v1/jobs/{id}/shares.
type ShareCreateRequest struct {
	// Name of the link, unique on the job (default: share-N).
	Name  string `json:"name,omitempty"`
	Label string `json:"label,omitempty"`
	// ExpiresIn is how long the link works ("2h", "30m"; "" never ends
	// before the job).
	ExpiresIn string `json:"expires_in,omitempty"`
}

// ShareInfo is a share link as the API lists it: never its token or hash.
type ShareInfo struct {
	Name    string     `json:"name"`
	Label   string     `json:"label,omitempty"`
	By      string     `json:"by,omitempty"`
	Created time.Time  `json:"created"`
	Expires *time.Time `json:"expires,omitempty"`
}

// ShareCreated is the answer to creating a share link: the only place its
// token ever appears.
type ShareCreated struct {
	ShareInfo
	Token string `json:"token"`
	// URL is the job's address with the link's token, when the job has
	// reported its address.
	URL string `json:"url,omitempty"`
}

// Info is s without its hash.
func (s *JobShare) Info() ShareInfo {
	return ShareInfo{Name: s.Name, Label: s.Label, By: s.By, Created: s.Created, Expires: s.Expires}
}

// HashShareToken is the hash a guard checks for token.
func HashShareToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return ShareHashPrefix + hex.EncodeToString(sum[:])
}

// JobShareChange creates or revokes a share link of a job (raft command
// JobShares). Exactly one of Create and Revoke is set.
type JobShareChange struct {
	ID     string    `json:"id"`
	Create *JobShare `json:"create,omitempty"`
	Revoke string    `json:"revoke,omitempty"`
	Time   time.Time `json:"time"`
}

// Validate checks the fields a writer must supply.
func (c *JobShareChange) Validate() error {
	switch {
	case c.Time.IsZero():
		return invalidf("share link of job %q: no time", c.ID)
	case (c.Create == nil) == (c.Revoke == ""):
		return invalidf("share link of job %q: want one of create and revoke", c.ID)
	case c.Create != nil:
		return c.Create.Validate()
	}
	return nil
}

// Validate checks a share link's fields.
func (s *JobShare) Validate() error {
	switch {
	case !goodShareName(s.Name):
		return invalidf("share name %q: want 1 to 40 lowercase letters, digits and '-', starting and ending with a letter or digit", s.Name)
	case len(s.Label) > MaxShareLabel:
		return invalidf("share label: at most %d bytes", MaxShareLabel)
	case len(s.TokenHash) != len(ShareHashPrefix)+64 || s.TokenHash[:len(ShareHashPrefix)] != ShareHashPrefix:
		return invalidf("share %q: malformed token hash", s.Name)
	case s.Created.IsZero():
		return invalidf("share %q: no creation time", s.Name)
	case s.Expires != nil && !s.Expires.After(s.Created):
		return invalidf("share %q: expires before it is created", s.Name)
	}
	return nil
}

// ValidShareName checks a share link's name as a caller gives it.
func ValidShareName(name string) error {
	if !goodShareName(name) {
		return invalidf("share name %q: want 1 to 40 lowercase letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// WithShareChange returns list changed by c: a new link appended (its
// name unused, at most MaxJobShares), or one removed by name (ErrNotFound
// when there is none). It is the one rule of the list, pure: the FSM
// applies it.
func WithShareChange(list []JobShare, c *JobShareChange) ([]JobShare, error) {
	if c.Revoke != "" {
		i := slices.IndexFunc(list, func(s JobShare) bool { return s.Name == c.Revoke })
		if i < 0 {
			return nil, Errorf(ErrNotFound, "job %q has no share link %q", c.ID, c.Revoke)
		}
		return slices.Delete(slices.Clone(list), i, i+1), nil
	}
	if slices.ContainsFunc(list, func(s JobShare) bool { return s.Name == c.Create.Name }) {
		return nil, Errorf(ErrConflict, "job %q has a share link %q already", c.ID, c.Create.Name)
	}
	if len(list) >= MaxJobShares {
		return nil, Errorf(ErrConflict, "job %q has %d share links, the most it may have: revoke one first", c.ID, MaxJobShares)
	}
	return append(slices.Clone(list), *c.Create), nil
}
