package structs

import (
	"cmp"
	"path"
	"slices"
)

// ClaimRule maps an OIDC ID token's claims to a Flotilla account in the
// portal's single sign-on. Rules apply in order of Priority, then Name;
// the first whose conditions all hold decides, and a token no rule
// matches cannot log in. They live in the replicated state (the hub's
// configuration file seeds them once) and system administrators edit
// them.
type ClaimRule struct {
	RaftIndex
	// Name identifies the rule on the admin page and in errors.
	Name string `json:"name"`
	// Priority orders the rules: lower first.
	Priority int `json:"priority,omitempty"`
	// Email, if set, is a pattern (path.Match syntax, e.g.
	// "*@physics.example") the token's verified email must match.
	Email string `json:"email,omitempty"`
	// Group, if set, must be one of the token's groups.
	Group string `json:"group,omitempty"`

	// Tenant, Teams, Role and Groups are what a matching user gets.
	Tenant string   `json:"tenant"`
	Teams  []string `json:"teams,omitempty"`
	Role   Role     `json:"role,omitempty"` // "" means user
	Groups []string `json:"groups,omitempty"`
	// KeepTokenGroups also grants the token's own groups (for access
	// rules keyed on the identity provider's groups).
	KeepTokenGroups bool `json:"keep_token_groups,omitempty"`
}

// Copy returns a deep copy of r.
func (r *ClaimRule) Copy() *ClaimRule {
	if r == nil {
		return nil
	}
	c := *r
	c.Teams, c.Groups = slices.Clone(r.Teams), slices.Clone(r.Groups)
	return &c
}

// Validate checks a rule: a name and tenant, a valid email pattern, role
// and team names.
func (r *ClaimRule) Validate() error {
	if err := validName("claim rule name", r.Name); err != nil {
		return err
	}
	if err := validName("claim rule "+r.Name+" tenant", r.Tenant); err != nil {
		return err
	}
	if r.Email != "" {
		if _, err := path.Match(r.Email, ""); err != nil {
			return invalidf("claim rule %q: email pattern %q: %v", r.Name, r.Email, err)
		}
	}
	if r.Role != "" && !r.Role.Valid() {
		return invalidf("claim rule %q: role %q", r.Name, r.Role)
	}
	for _, t := range r.Teams {
		if err := validName("claim rule "+r.Name+" team", t); err != nil {
			return err
		}
	}
	return nil
}

// SortClaimRules puts rules in the order they apply: Priority, then Name.
func SortClaimRules(rules []*ClaimRule) {
	slices.SortStableFunc(rules, func(a, b *ClaimRule) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
}
