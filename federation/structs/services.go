package structs

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ServiceAccountPrefix starts the subject of a service account, the
// identity its jobs, events and audit records carry: "sa:<tenant>/<name>".
// Usernames may not start with it.
const ServiceAccountPrefix = "sa:"

// ServiceSubject is the subject (and job owner) of service account name
// of tenant.
func ServiceSubject(tenant, name string) string { return ServiceAccountPrefix + tenant + "/" + name }

// ServiceAccount is a non-human caller of one tenant (and optionally one
// team): it authenticates with its own API keys and may only submit what
// its Scope allows.
type ServiceAccount struct {
	RaftIndex
	Tenant      string `json:"tenant"`
	Name        string `json:"name"`
	Team        string `json:"team,omitempty"`
	Description string `json:"description,omitempty"`
	Disabled    bool   `json:"disabled,omitempty"`
	Scope       Scope  `json:"scope"`
	// APIKeys are the hashes of its keys; more than one is valid at once,
	// so a key rotates without downtime (create the new one, then revoke
	// the old one). Writers of the account keep them as stored.
	APIKeys []APIKeyHash `json:"api_keys,omitempty"`
}

// Scope is what a service account may submit.
type Scope struct {
	// Apps the account may submit, each with the commands allowed (none
	// listed: every command of the app).
	Apps []AppGrant `json:"apps"`
	// MachineTypes allowed; empty means none.
	MachineTypes []string `json:"machine_types"`
	// MaxNodes bounds a job's node count; 0 means 1.
	MaxNodes int `json:"max_nodes,omitempty"`
	// RatePerMinute bounds submissions in any 60 s; 0 means no bound.
	RatePerMinute int `json:"rate_per_minute,omitempty"`
	// Params bound parameter values by parameter name.
	Params map[string]ParamBound `json:"params,omitempty"`
}

// AppGrant allows one app, and within it Commands (all when empty).
type AppGrant struct {
	App      string   `json:"app"`
	Commands []string `json:"commands,omitempty"`
}

// ParamBound bounds one parameter's value: numeric Min/Max, a set of
// allowed Values, a string Prefix (paths), a MaxLength.
type ParamBound struct {
	Min       *float64 `json:"min,omitempty"`
	Max       *float64 `json:"max,omitempty"`
	Values    []string `json:"values,omitempty"`
	Prefix    string   `json:"prefix,omitempty"`
	MaxLength int      `json:"max_length,omitempty"`
}

// Subject is the account's subject, "sa:<tenant>/<name>".
func (s *ServiceAccount) Subject() string { return ServiceSubject(s.Tenant, s.Name) }

// Copy returns a deep copy of s.
func (s *ServiceAccount) Copy() *ServiceAccount {
	if s == nil {
		return nil
	}
	c := *s
	c.APIKeys = slices.Clone(s.APIKeys)
	c.Scope = s.Scope.Copy()
	return &c
}

// Copy returns a deep copy of sc.
func (sc Scope) Copy() Scope {
	c := sc
	c.Apps = make([]AppGrant, len(sc.Apps))
	for i, a := range sc.Apps {
		c.Apps[i] = AppGrant{App: a.App, Commands: slices.Clone(a.Commands)}
	}
	if sc.Apps == nil {
		c.Apps = nil
	}
	c.MachineTypes = slices.Clone(sc.MachineTypes)
	if sc.Params != nil {
		c.Params = make(map[string]ParamBound, len(sc.Params))
		for k, b := range sc.Params {
			nb := b
			nb.Values = slices.Clone(b.Values)
			if b.Min != nil {
				v := *b.Min
				nb.Min = &v
			}
			if b.Max != nil {
				v := *b.Max
				nb.Max = &v
			}
			c.Params[k] = nb
		}
	}
	return c
}

// Validate checks the account's fields.
func (s *ServiceAccount) Validate() error {
	if err := validName("service account tenant", s.Tenant); err != nil {
		return err
	}
	if err := validName("service account", s.Name); err != nil {
		return err
	}
	if strings.ContainsAny(s.Name, "/:") || strings.ContainsAny(s.Tenant, "/") {
		return invalidf("service account %q: '/' and ':' are not allowed in its name", s.Name)
	}
	sc := s.Scope
	if sc.MaxNodes < 0 || sc.MaxNodes > MaxJobNodes || sc.RatePerMinute < 0 || sc.RatePerMinute > 100_000 {
		return invalidf("service account %q: max_nodes or rate_per_minute out of range", s.Name)
	}
	for _, a := range sc.Apps {
		if err := validName("service account app", a.App); err != nil {
			return err
		}
	}
	for k, b := range sc.Params {
		if b.Min != nil && b.Max != nil && *b.Min > *b.Max {
			return invalidf("service account %q: parameter %q: min above max", s.Name, k)
		}
		if b.MaxLength < 0 {
			return invalidf("service account %q: parameter %q: negative max_length", s.Name, k)
		}
	}
	for _, k := range s.APIKeys {
		if err := k.validate("service account"); err != nil {
			return err
		}
	}
	return nil
}

// ServiceAccountSpec is the body of PUT
// /v1/tenants/{tenant}/serviceaccounts/{name}: the account without its keys.
type ServiceAccountSpec struct {
	Team        string `json:"team,omitempty"`
	Description string `json:"description,omitempty"`
	Disabled    bool   `json:"disabled,omitempty"`
	Scope       Scope  `json:"scope"`
}

// ScopeError is a submission a service account's scope refuses; Rule
// names the rule ("apps", "commands", "machine_types", "max_nodes",
// "params.<name>", "vault").
type ScopeError struct {
	Account string
	Rule    string
	Msg     string
}

func (e *ScopeError) Error() string {
	return fmt.Sprintf("service account %s: scope rule %q: %s", e.Account, e.Rule, e.Msg)
}

// Unwrap makes it an ErrForbidden.
func (e *ScopeError) Unwrap() error { return ErrForbidden }

// RateError is a submission over a service account's rate; RetryAfter is
// when the oldest submission in the window leaves it.
type RateError struct {
	Account string
	Rate    int
	After   time.Duration
}

func (e *RateError) Error() string {
	return fmt.Sprintf("service account %s: scope rule \"rate_per_minute\": more than %d submissions a minute, retry after %s",
		e.Account, e.Rate, e.After.Round(time.Second))
}

// Unwrap makes it an ErrRateLimited.
func (e *RateError) Unwrap() error { return ErrRateLimited }

// RetryAfter is how long the caller should wait.
func (e *RateError) RetryAfter() time.Duration { return e.After }
