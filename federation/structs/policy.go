package structs

import (
	"math"
	"slices"
)

// LimitScope is whom a limit applies to.
type LimitScope string

// Limit scopes. Admins set tenant limits; team admins set team and user
// limits inside them.
const (
	ScopeTenant LimitScope = "tenant"
	ScopeTeam   LimitScope = "team"
	ScopeUser   LimitScope = "user"
)

// LimitKind is what a limit counts.
type LimitKind string

// Limit kinds. The per-machine-type kinds need MachineType ("*" means every
// machine type, each counted separately).
const (
	LimitConcurrentJobs LimitKind = "concurrent_jobs" // running jobs per machine type
	LimitMaxNodes       LimitKind = "max_nodes"       // nodes in use per machine type
	LimitTotalCores     LimitKind = "total_cores"     // cores in use, all machine types
	LimitTotalGPUs      LimitKind = "total_gpus"      // GPUs in use, all machine types
)

// PerMachineType reports whether k counts per machine type.
func (k LimitKind) PerMachineType() bool {
	return k == LimitConcurrentJobs || k == LimitMaxNodes
}

// Limit caps what a tenant, team or user may run at once. Jobs over a limit
// are HELD, not rejected.
type Limit struct {
	RaftIndex
	Name        string     `json:"name"`
	Scope       LimitScope `json:"scope"`
	Tenant      string     `json:"tenant"`
	Team        string     `json:"team,omitempty"` // ScopeTeam
	User        string     `json:"user,omitempty"` // ScopeUser
	Kind        LimitKind  `json:"kind"`
	MachineType string     `json:"machine_type,omitempty"`
	Value       int64      `json:"value"`
}

// Copy returns a deep copy of l.
func (l *Limit) Copy() *Limit {
	if l == nil {
		return nil
	}
	c := *l
	return &c
}

// Validate checks the fields a writer must supply.
func (l *Limit) Validate() error {
	if err := validName("limit", l.Name); err != nil {
		return err
	}
	if err := validName("limit tenant", l.Tenant); err != nil {
		return err
	}
	switch l.Scope {
	case ScopeTenant:
	case ScopeTeam:
		if err := validName("limit team", l.Team); err != nil {
			return err
		}
	case ScopeUser:
		if err := validName("limit user", l.User); err != nil {
			return err
		}
	default:
		return invalidf("limit %q: scope %q", l.Name, l.Scope)
	}
	switch l.Kind {
	case LimitConcurrentJobs, LimitMaxNodes:
		if l.MachineType == "" {
			return invalidf("limit %q: kind %s needs a machine type", l.Name, l.Kind)
		}
	case LimitTotalCores, LimitTotalGPUs:
		if l.MachineType != "" {
			return invalidf("limit %q: kind %s counts all machine types", l.Name, l.Kind)
		}
	default:
		return invalidf("limit %q: kind %q", l.Name, l.Kind)
	}
	if l.Value < 0 {
		return invalidf("limit %q: negative value", l.Name)
	}
	return nil
}

// BurstRule lets jobs queued for one machine type run on others (usually in
// another cluster) after waiting, or at once when the home cluster is full.
type BurstRule struct {
	RaftIndex
	Name string   `json:"name"`
	From string   `json:"from"` // machine type jobs were submitted for
	To   []string `json:"to"`   // machine types to try, in order
	// After is how long a job waits before it may burst; zero means at
	// once, or with WhenFull, only when full.
	After Duration `json:"after,omitempty"`
	// WhenFull bursts before After when From's cluster has too few free
	// nodes for the job (or takes no jobs: down, draining).
	WhenFull bool     `json:"when_full,omitempty"`
	Tenants  []string `json:"tenants,omitempty"` // allowed tenants; empty = all
	Teams    []string `json:"teams,omitempty"`   // allowed teams; empty = all
	Apps     []string `json:"apps,omitempty"`    // allowed apps; empty = all
	// PriceCeiling skips targets whose price exceeds it; zero means none.
	PriceCeiling float64 `json:"price_ceiling,omitempty"`
	// Cap bounds the jobs bursted by this rule running at once; zero means none.
	Cap int `json:"cap,omitempty"`
	// MaxTargetNodes bounds, per target cluster, the nodes of jobs this
	// rule bursted there that are assigned, starting or running; zero
	// means none.
	MaxTargetNodes int  `json:"max_target_nodes,omitempty"`
	Disabled       bool `json:"disabled,omitempty"`
}

// Copy returns a deep copy of b.
func (b *BurstRule) Copy() *BurstRule {
	if b == nil {
		return nil
	}
	c := *b
	c.To = slices.Clone(b.To)
	c.Tenants = slices.Clone(b.Tenants)
	c.Teams = slices.Clone(b.Teams)
	c.Apps = slices.Clone(b.Apps)
	return &c
}

// MachineTypes returns From followed by To: every machine type b names.
func (b *BurstRule) MachineTypes() []string {
	return append([]string{b.From}, b.To...)
}

// Validate checks the fields a writer must supply.
func (b *BurstRule) Validate() error {
	if err := validName("burst rule", b.Name); err != nil {
		return err
	}
	if err := validName("burst rule from", b.From); err != nil {
		return err
	}
	if len(b.To) == 0 {
		return invalidf("burst rule %q: no target machine types", b.Name)
	}
	for i, t := range b.To {
		if err := validName("burst rule target", t); err != nil {
			return err
		}
		if t == b.From || slices.Contains(b.To[:i], t) {
			return invalidf("burst rule %q: target %q repeated", b.Name, t)
		}
	}
	switch {
	case b.After < 0:
		return invalidf("burst rule %q: negative after", b.Name)
	case b.PriceCeiling < 0 || math.IsNaN(b.PriceCeiling) || math.IsInf(b.PriceCeiling, 0):
		return invalidf("burst rule %q: price ceiling", b.Name)
	case b.Cap < 0 || b.MaxTargetNodes < 0:
		return invalidf("burst rule %q: negative cap", b.Name)
	}
	return nil
}
