package portal

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// ClaimRule maps an ID token's claims to a Flotilla account (see
// structs.ClaimRule). The first rule whose conditions all hold decides; a
// token no rule matches cannot log in.
type ClaimRule = structs.ClaimRule

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

func validateRule(r *ClaimRule) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("portal: %w", err)
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
