package structs

import (
	"maps"
	"path"
	"slices"
)

// AccessObject is the kind of object an access rule restricts.
type AccessObject string

// Access rule objects.
const (
	AccessObjectApp         AccessObject = "app"
	AccessObjectMachineType AccessObject = "machine_type"
	AccessObjectVault       AccessObject = "vault"
	AccessObjectCluster     AccessObject = "cluster"
)

// Valid reports whether o is a known object kind.
func (o AccessObject) Valid() bool {
	switch o {
	case AccessObjectApp, AccessObjectMachineType, AccessObjectVault, AccessObjectCluster:
		return true
	}
	return false
}

// AccessRule restricts the objects it matches (apps, machine types, vaults
// or clusters) to some users, and jobs using them to some clusters. Every
// rule matching an object must pass; within a rule, each non-empty
// condition must hold.
type AccessRule struct {
	RaftIndex
	Name   string       `json:"name"`
	Object AccessObject `json:"object"`
	// Match selects objects by name, in path.Match syntax ("ng*", "*").
	// Vaults are matched as "<tenant>/<vault>".
	Match string `json:"match"`
	// Groups: the user must be in at least one; empty = any user.
	Groups []string `json:"groups,omitempty"`
	// Tenants: the job's tenant must be one of these; empty = any tenant.
	Tenants []string `json:"tenants,omitempty"`
	// ClusterLabels: jobs using a matched app, machine type or vault run
	// only on clusters carrying all these labels (e.g. region=us). Not
	// allowed on cluster rules.
	ClusterLabels map[string]string `json:"cluster_labels,omitempty"`
	Disabled      bool              `json:"disabled,omitempty"`
}

// Copy returns a deep copy of r.
func (r *AccessRule) Copy() *AccessRule {
	if r == nil {
		return nil
	}
	c := *r
	c.Groups = slices.Clone(r.Groups)
	c.Tenants = slices.Clone(r.Tenants)
	c.ClusterLabels = maps.Clone(r.ClusterLabels)
	return &c
}

// Validate checks the fields a writer must supply.
func (r *AccessRule) Validate() error {
	if err := validName("access rule", r.Name); err != nil {
		return err
	}
	if !r.Object.Valid() {
		return invalidf("access rule %q: object %q", r.Name, r.Object)
	}
	if err := validName("access rule match", r.Match); err != nil {
		return err
	}
	if _, err := path.Match(r.Match, ""); err != nil {
		return invalidf("access rule %q: match %q is not a valid pattern", r.Name, r.Match)
	}
	if r.Object == AccessObjectCluster && len(r.ClusterLabels) > 0 {
		return invalidf("access rule %q: cluster labels on a cluster rule", r.Name)
	}
	if len(r.Groups) == 0 && len(r.Tenants) == 0 && len(r.ClusterLabels) == 0 {
		return invalidf("access rule %q: restricts nothing", r.Name)
	}
	for _, g := range r.Groups {
		if err := validName("access rule group", g); err != nil {
			return err
		}
	}
	for _, t := range r.Tenants {
		if err := validName("access rule tenant", t); err != nil {
			return err
		}
	}
	for k := range r.ClusterLabels {
		if err := validName("access rule label", k); err != nil {
			return err
		}
	}
	return nil
}
