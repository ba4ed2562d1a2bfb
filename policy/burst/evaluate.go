package burst

import (
	"cmp"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// View is the part of the hub's state burst rules look at. Placement
// implements it over its working state, so capacity and caps reflect
// assignments made earlier in the same pass.
type View interface {
	MachineType(name string) *structs.MachineType // nil when unknown
	Cluster(name string) *structs.Cluster         // nil when unknown
	Vault(tenant, name string) *structs.Vault     // nil when unknown
	App(name string) *structs.App                 // nil when unknown
	// FreeNodes is how many nodes of a machine type can take a job now:
	// 0 when its cluster takes no jobs.
	FreeNodes(machineType string) int
	// RuleJobs counts active jobs (assigned, starting, running) placed by a rule.
	RuleJobs(rule string) int
	// RuleNodes counts the nodes of active jobs placed by a rule on a cluster.
	RuleNodes(rule, cluster string) int
}

// Candidate is a target a burst rule permits, in preference order.
type Candidate struct {
	Rule        string
	MachineType string
	Cluster     string
	// Reason reads like "burst by rule R to cpu-west after 5s".
	Reason string
}

// Result lists the permitted targets and why other rules or targets were
// skipped, one line each, in evaluation order.
type Result struct {
	Candidates []Candidate
	Skipped    []string
}

// Why explains a result with no candidates: the skipped lines joined, or
// "no burst rule applies".
func (r Result) Why() string {
	if len(r.Skipped) == 0 {
		return "no burst rule applies"
	}
	s := r.Skipped[0]
	for _, x := range r.Skipped[1:] {
		s += "; " + x
	}
	return s
}

// Rules is a compiled, read-only set of burst rules. Its methods are safe
// for concurrent use.
type Rules struct {
	from map[string][]*structs.BurstRule // enabled rules by From, by name
}

// New compiles rules; disabled and nil rules are left out. The rules are
// not copied: callers must not change them while the Rules is in use.
func New(rules []*structs.BurstRule) *Rules {
	rs := &Rules{from: make(map[string][]*structs.BurstRule)}
	for _, r := range rules {
		if r != nil && !r.Disabled {
			rs.from[r.From] = append(rs.from[r.From], r)
		}
	}
	for _, v := range rs.from {
		slices.SortFunc(v, func(a, b *structs.BurstRule) int { return cmp.Compare(a.Name, b.Name) })
	}
	return rs
}

// Has reports whether any enabled rule bursts jobs of machine type mt.
func (rs *Rules) Has(mt string) bool { return rs != nil && len(rs.from[mt]) > 0 }

// Evaluate returns the targets job j (queued for j.MachineType) may burst
// to at time now, in order, and why other rules and targets do not apply.
func (rs *Rules) Evaluate(j *structs.Job, now time.Time, v View) Result {
	var res Result
	if rs == nil {
		return res
	}
	seen := make(map[string]bool)
	for _, r := range rs.from[j.MachineType] {
		trigger, why := ruleApplies(r, j, now, v)
		if why != "" {
			res.Skipped = append(res.Skipped, "rule "+r.Name+": "+why)
			continue
		}
		for _, t := range r.To {
			if seen[t] {
				continue
			}
			c, why := target(r, j, t, v)
			if why != "" {
				res.Skipped = append(res.Skipped, "rule "+r.Name+": "+t+": "+why)
				continue
			}
			seen[t] = true
			res.Candidates = append(res.Candidates, Candidate{Rule: r.Name, MachineType: t, Cluster: c,
				Reason: "burst by rule " + r.Name + " to " + t + trigger})
		}
	}
	return res
}

// ruleApplies checks a rule's who, what and when for job j. It returns
// the trigger text for reasons, or why the rule does not apply.
func ruleApplies(r *structs.BurstRule, j *structs.Job, now time.Time, v View) (trigger, why string) {
	switch {
	case len(r.Tenants) > 0 && !slices.Contains(r.Tenants, j.Tenant):
		return "", "tenant " + j.Tenant + " may not burst"
	case len(r.Teams) > 0 && !slices.Contains(r.Teams, j.Team):
		if j.Team == "" {
			return "", "jobs without a team may not burst"
		}
		return "", "team " + j.Team + " may not burst"
	case len(r.Apps) > 0 && !slices.Contains(r.Apps, j.App):
		return "", "app " + j.App + " may not burst"
	}
	waited := now.Sub(j.SubmitTime)
	free := v.FreeNodes(r.From)
	switch {
	case r.After == 0 && !r.WhenFull: // at once
	case r.After > 0 && waited >= r.After.Std():
		trigger = " after " + roundDuration(waited).String()
	case r.WhenFull && free < j.Nodes:
		trigger = ": " + r.From + " has " + strconv.Itoa(free) + " free nodes, job needs " + strconv.Itoa(j.Nodes)
	case r.After == 0: // only when full
		return "", r.From + " has room (" + strconv.Itoa(free) + " free nodes)"
	default:
		why = "waited " + roundDuration(waited).String() + " of " + r.After.String()
		if r.WhenFull {
			why += " and " + r.From + " has room"
		}
		return "", why
	}
	if r.Cap > 0 {
		if n := v.RuleJobs(r.Name); n >= r.Cap {
			return "", "cap of " + strconv.Itoa(r.Cap) + " burst jobs reached"
		}
	}
	return trigger, ""
}

// target checks one target machine type t of rule r for job j; it returns
// the target's cluster, or why the target is not permitted.
func target(r *structs.BurstRule, j *structs.Job, t string, v View) (cluster, why string) {
	mt := v.MachineType(t)
	if mt == nil {
		return "", "unknown machine type"
	}
	c := v.Cluster(mt.Cluster)
	if c == nil {
		return "", "cluster " + strconv.Quote(mt.Cluster) + " unknown"
	}
	if r.PriceCeiling > 0 && mt.Price > r.PriceCeiling {
		return "", "price " + formatPrice(mt.Price) + " above ceiling " + formatPrice(r.PriceCeiling)
	}
	if j.Vault != "" {
		if vault := v.Vault(j.Tenant, j.Vault); vault != nil && vault.Zone != "" && vault.Zone != c.Zone {
			return "", "cluster " + c.Name + " is in zone " + zoneName(c.Zone) + ", vault " + j.Vault + " in zone " + vault.Zone
		}
	}
	if a := v.App(j.App); a != nil && !appRunsOn(a, j.Command, t) {
		return "", "app " + j.App + " does not run on it"
	}
	switch {
	case mt.ScaleMax > 0 && j.Nodes > mt.ScaleMax:
		return "", "job needs " + strconv.Itoa(j.Nodes) + " nodes, scale max " + strconv.Itoa(mt.ScaleMax)
	case j.Nodes < mt.ScaleMin:
		return "", "job needs " + strconv.Itoa(j.Nodes) + " nodes, scale min " + strconv.Itoa(mt.ScaleMin)
	}
	if r.MaxTargetNodes > 0 {
		if n := v.RuleNodes(r.Name, c.Name); n+j.Nodes > r.MaxTargetNodes {
			return "", "burst jobs use " + strconv.Itoa(n) + " of " + strconv.Itoa(r.MaxTargetNodes) +
				" nodes on " + c.Name + ", job needs " + strconv.Itoa(j.Nodes)
		}
	}
	return c.Name, ""
}

// appRunsOn reports whether the app's command (or, when the command names
// none, its AppDef) accepts machine type mt; no patterns accept all.
func appRunsOn(a *structs.App, command, mt string) bool {
	patterns := a.AppDef.Machines
	if c, ok := a.AppDef.Commands[command]; ok && len(c.Machines) > 0 {
		patterns = c.Machines
	}
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, err := path.Match(p, mt); err == nil && ok {
			return true
		}
	}
	return false
}

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Second || d <= -time.Second {
		return d.Truncate(time.Second)
	}
	return d
}

func formatPrice(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

func zoneName(z string) string {
	if z == "" {
		return "(none)"
	}
	return z
}
