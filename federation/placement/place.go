package placement

import (
	"errors"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
	"github.com/flotilla-hpc/flotilla/policy/limits"
)

// Place runs one placement pass over in. See the package documentation for
// the policy.
func Place(in Input) Plan {
	p := newPass(&in)
	var plan Plan
	for j := range queueOrder(in.Jobs, p) {
		p.decide(j, &plan)
	}
	return plan
}

// failKind classifies why a machine type cannot take a job.
type failKind int

const (
	failOther    failKind = iota // access, zone, cluster state, max concurrent: no reservation
	failLimit                    // a limit holds the job
	failCapacity                 // too few free nodes now: may reserve
	failReserved                 // free nodes held for an earlier job
	failNever                    // the machine type is too small for the job
)

type failure struct {
	kind   failKind
	reason string
	hold   *limits.Hold
}

// decide places one job, or records why it is held or pending.
func (p *pass) decide(j *structs.Job, plan *Plan) {
	home := p.mts[j.MachineType]
	if home == nil {
		plan.Pending = append(plan.Pending, Pending{JobID: j.ID, Reason: "unknown machine type " + j.MachineType})
		return
	}
	if j.Nodes < 1 {
		plan.Pending = append(plan.Pending, Pending{JobID: j.ID, Reason: "job asks for " + strconv.Itoa(j.Nodes) + " nodes"})
		return
	}
	user, app := p.users[j.Owner], p.apps[j.App]
	homeFail := p.try(j, user, app, home)
	if homeFail == nil {
		p.assign(j, home, "", "pinned to "+home.Cluster, plan)
		return
	}

	res := p.burst.Evaluate(j, p.now, p)
	var tried []string
	for _, c := range res.Candidates {
		mt := p.mts[c.MachineType]
		f := p.try(j, user, app, mt)
		if f == nil {
			p.assign(j, mt, c.Rule, c.Reason, plan)
			return
		}
		tried = append(tried, "burst to "+c.MachineType+" by rule "+c.Rule+": "+f.reason)
	}

	if homeFail.kind == failLimit {
		p.ledger.Block(j, homeFail.hold)
		plan.Held = append(plan.Held, Held{JobID: j.ID, Limit: homeFail.hold.Limit, Reason: homeFail.hold.Reason})
		return
	}
	if homeFail.kind == failCapacity && !p.opts.Backfill && p.reserved[home.Name] == "" {
		p.reserved[home.Name] = j.ID
	}
	why := res.Why()
	if len(tried) > 0 {
		why = strings.Join(tried, "; ")
	}
	plan.Pending = append(plan.Pending, Pending{JobID: j.ID, Reason: homeFail.reason + "; " + why})
}

// try checks whether machine type mt (and its cluster) can take job j now.
func (p *pass) try(j *structs.Job, user *structs.User, app *structs.App, mt *structs.MachineType) *failure {
	c := p.clusters[mt.Cluster]
	if c == nil {
		return &failure{reason: mt.Name + " is pinned to unknown cluster " + strconv.Quote(mt.Cluster)}
	}
	owner := access.UserSubject(user)
	if err := p.access.MachineTypeAllowed(owner, j, mt); err != nil {
		return &failure{reason: deniedText(err)}
	}
	if err := p.access.ClusterAllowed(owner, j, app, mt, c); err != nil {
		return &failure{reason: deniedText(err)}
	}
	if j.Vault != "" {
		if v := p.vaults[vaultKey(j.Tenant, j.Vault)]; v != nil && v.Zone != "" && v.Zone != c.Zone {
			return &failure{reason: "vault " + j.Vault + " is in zone " + v.Zone + ", cluster " + c.Name + " in zone " + zoneName(c.Zone)}
		}
	}
	if why, no := c.Catalog.NotRunnable(j.App, mt.Name); no {
		return &failure{kind: failNever, reason: "app " + j.App + " cannot run on " + mt.Name + " in " + c.Name + ": " + why}
	}
	if why := p.notReady[c.Name]; why != "" {
		return &failure{reason: why}
	}
	if why := p.lacksFeature(j, c); why != "" {
		return &failure{kind: failNever, reason: why}
	}
	if h := p.ledger.Check(j, mt); h != nil {
		return &failure{kind: failLimit, reason: "held: " + h.Reason, hold: h}
	}
	if mt.MaxConcurrent > 0 && p.running[mt.Name] >= mt.MaxConcurrent {
		return &failure{reason: strconv.Itoa(p.running[mt.Name]) + " " + mt.Name + " jobs running, max concurrent " + strconv.Itoa(mt.MaxConcurrent)}
	}
	total, free := p.total[mt.Name], p.free[mt.Name]
	switch {
	case j.Nodes > total:
		return &failure{kind: failNever, reason: neverText(c.Name, mt.Name, total, p.grow[mt.Name], j.Nodes)}
	case p.reserved[mt.Name] != "":
		return &failure{kind: failReserved, reason: c.Name + ": free " + mt.Name + " nodes held for earlier job " + p.reserved[mt.Name]}
	case free < j.Nodes:
		return &failure{kind: failCapacity, reason: capacityText(c.Name, mt.Name, free, total, j.Nodes)}
	}
	return nil
}

// assign records job j on machine type mt and consumes what it uses.
func (p *pass) assign(j *structs.Job, mt *structs.MachineType, rule, reason string, plan *Plan) {
	p.free[mt.Name] -= j.Nodes
	p.running[mt.Name]++
	p.ledger.Admit(j, mt)
	if rule != "" {
		p.ruleJobs[rule]++
		p.ruleNodes[ruleCluster{rule, mt.Cluster}] += j.Nodes
	}
	p.teamCores[teamKey(j)] += int64(j.Nodes) * int64(mt.Cores)
	plan.Assignments = append(plan.Assignments, Assignment{JobID: j.ID, Cluster: mt.Cluster,
		MachineType: mt.Name, BurstRule: rule, Reason: reason})
}

func deniedText(err error) string {
	var d *access.DeniedError
	if errors.As(err, &d) {
		return "access rule " + d.Rule + ": " + string(d.Object) + " " + d.Name + " " + d.Reason
	}
	return err.Error()
}

func zoneName(z string) string {
	if z == "" {
		return "(none)"
	}
	return z
}
