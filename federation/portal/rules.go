package portal

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// ClaimRule maps an ID token's claims to a Flotilla account. The first
// rule whose conditions all hold decides; a token no rule matches cannot
// log in.
type ClaimRule struct {
	// Name identifies the rule on the admin page and in errors.
	Name string `json:"name"`
	// Email, if set, is a pattern (path.Match syntax, e.g.
	// "*@physics.example") the token's verified email must match.
	Email string `json:"email,omitempty"`
	// Group, if set, must be one of the token's groups.
	Group string `json:"group,omitempty"`

	// Tenant, Teams, Role and Groups are what a matching user gets.
	Tenant string       `json:"tenant"`
	Teams  []string     `json:"teams,omitempty"`
	Role   structs.Role `json:"role,omitempty"` // "" means user
	Groups []string     `json:"groups,omitempty"`
	// KeepTokenGroups also grants the token's own groups (for access
	// rules keyed on the identity provider's groups).
	KeepTokenGroups bool `json:"keep_token_groups,omitempty"`
}

// Claims are the ID token claims the rules read.
type Claims struct {
	Subject       string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified *bool    `json:"email_verified"`
	Name          string   `json:"name"`
	PreferredName string   `json:"preferred_username"`
	Groups        []string `json:"groups"`
}

// Account is what a token maps to.
type Account struct {
	Username string
	Email    string
	Tenant   string
	Teams    []string
	Role     structs.Role
	Groups   []string
	Rule     string
}

func (r ClaimRule) validate() error {
	if r.Name == "" || r.Tenant == "" {
		return fmt.Errorf("portal: claim rule %q: name and tenant are required", r.Name)
	}
	if r.Email != "" {
		if _, err := path.Match(r.Email, ""); err != nil {
			return fmt.Errorf("portal: claim rule %q: email pattern: %w", r.Name, err)
		}
	}
	if r.Role != "" && !r.Role.Valid() {
		return fmt.Errorf("portal: claim rule %q: role %q", r.Name, r.Role)
	}
	return nil
}

// MapClaims applies rules to c: pure, the first matching rule decides.
// The username is the verified email, lower-cased; a token without one
// cannot log in (subjects are opaque and differ between providers).
func MapClaims(rules []ClaimRule, c Claims) (*Account, error) {
	email := strings.ToLower(strings.TrimSpace(c.Email))
	if email == "" || (c.EmailVerified != nil && !*c.EmailVerified) {
		return nil, structs.Errorf(structs.ErrForbidden, "the identity provider sent no verified email")
	}
	for _, r := range rules {
		if r.Email != "" {
			if ok, _ := path.Match(strings.ToLower(r.Email), email); !ok {
				continue
			}
		}
		if r.Group != "" && !slices.Contains(c.Groups, r.Group) {
			continue
		}
		a := &Account{Username: email, Email: email, Tenant: r.Tenant, Teams: slices.Clone(r.Teams),
			Role: r.Role, Groups: slices.Clone(r.Groups), Rule: r.Name}
		if a.Role == "" {
			a.Role = structs.RoleUser
		}
		if r.KeepTokenGroups {
			for _, g := range c.Groups {
				if !slices.Contains(a.Groups, g) {
					a.Groups = append(a.Groups, g)
				}
			}
		}
		return a, nil
	}
	return nil, structs.Errorf(structs.ErrForbidden, "no login rule admits %s", email)
}
