package placement

import (
	"strconv"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
	"github.com/flotilla-hpc/flotilla/policy/burst"
	"github.com/flotilla-hpc/flotilla/policy/limits"
)

// pass is the working state of one placement pass. It implements
// burst.View, so burst rules see capacity and caps as the pass changes them.
type pass struct {
	now  time.Time
	opts Options
	// features: place by agents' features (Input.AgentFeatures).
	features bool

	mts      map[string]*structs.MachineType
	clusters map[string]*structs.Cluster
	apps     map[string]*structs.App
	vaults   map[string]*structs.Vault // by tenant/name
	users    map[string]*structs.User

	access *access.Rules
	burst  *burst.Rules
	ledger *limits.Ledger

	notReady  map[string]string // cluster → why it takes no jobs
	free      map[string]int    // machine type → free nodes left in this pass
	total     map[string]int    // machine type → total nodes reported
	grow      map[string]int    // machine type → nodes its elastic group can add
	reserved  map[string]string // machine type → job holding its free nodes
	running   map[string]int    // machine type → active jobs on it
	ruleJobs  map[string]int    // burst rule → active jobs it placed
	ruleNodes map[ruleCluster]int
	teamCores map[string]int64 // fair-share group → cores in use
}

type ruleCluster struct{ rule, cluster string }

func vaultKey(tenant, name string) string { return tenant + "/" + name }

func teamKey(j *structs.Job) string { return j.Tenant + "/" + j.Team }

func newPass(in *Input) *pass {
	p := &pass{
		now: in.Now, opts: in.Options, features: in.AgentFeatures,
		mts:       make(map[string]*structs.MachineType, len(in.MachineTypes)),
		clusters:  make(map[string]*structs.Cluster, len(in.Clusters)),
		apps:      make(map[string]*structs.App, len(in.Apps)),
		vaults:    make(map[string]*structs.Vault, len(in.Vaults)),
		users:     make(map[string]*structs.User, len(in.Users)),
		access:    access.New(in.AccessRules),
		burst:     burst.New(in.BurstRules),
		notReady:  make(map[string]string),
		free:      make(map[string]int),
		total:     make(map[string]int),
		grow:      make(map[string]int),
		reserved:  make(map[string]string),
		running:   make(map[string]int),
		ruleJobs:  make(map[string]int),
		ruleNodes: make(map[ruleCluster]int),
		teamCores: make(map[string]int64),
	}
	for _, m := range in.MachineTypes {
		p.mts[m.Name] = m
	}
	for _, c := range in.Clusters {
		p.clusters[c.Name] = c
		switch {
		case c.Status == "" || c.Status == structs.ClusterUnknown:
			// Registered, never heard from: say what a user can act on.
			p.notReady[c.Name] = "cluster " + c.Name + " has not reported yet (no agent connected)"
		case c.Status != structs.ClusterReady:
			p.notReady[c.Name] = "cluster " + c.Name + " is " + string(c.Status)
		case p.opts.HeartbeatTimeout > 0 && p.now.Sub(c.LastHeartbeat) > p.opts.HeartbeatTimeout:
			p.notReady[c.Name] = "cluster " + c.Name + " not heard from for " +
				p.now.Sub(c.LastHeartbeat).Truncate(time.Second).String()
		}
	}
	for _, a := range in.Apps {
		p.apps[a.Name] = a
	}
	for _, v := range in.Vaults {
		p.vaults[vaultKey(v.Tenant, v.Name)] = v
	}
	for _, u := range in.Users {
		p.users[u.Username] = u
	}
	// Capacity per machine type, from its pinned cluster's report.
	for _, m := range in.MachineTypes {
		if c := p.clusters[m.Cluster]; c != nil {
			cp := c.Capacity[m.Name]
			// Nodes an elastic group can still add count as free: the
			// agent provisions them for the job.
			p.free[m.Name], p.total[m.Name], p.grow[m.Name] = cp.Free+cp.Grow, cp.Total+cp.Grow, cp.Grow
		}
	}
	usage := &limits.Usage{}
	for _, j := range in.Jobs {
		if !limits.Active(j.State) {
			continue
		}
		name := j.EffectiveMachineType()
		mt := p.mts[name]
		usage.Add(j, mt)
		p.running[name]++
		if j.BurstRule != "" {
			p.ruleJobs[j.BurstRule]++
			p.ruleNodes[ruleCluster{j.BurstRule, j.Cluster}] += j.Nodes
		}
		if mt != nil {
			p.teamCores[teamKey(j)] += int64(j.Nodes) * int64(mt.Cores)
			// The agent's report does not yet show an assignment it has
			// not bound.
			if j.State == structs.JobAssigned && j.Cluster == mt.Cluster {
				p.free[name] = max(0, p.free[name]-j.Nodes)
			}
		}
	}
	p.ledger = limits.NewLedger(in.Limits, usage)
	return p
}

// MachineType implements burst.View.
func (p *pass) MachineType(name string) *structs.MachineType { return p.mts[name] }

// Cluster implements burst.View.
func (p *pass) Cluster(name string) *structs.Cluster { return p.clusters[name] }

// Vault implements burst.View.
func (p *pass) Vault(tenant, name string) *structs.Vault { return p.vaults[vaultKey(tenant, name)] }

// App implements burst.View.
func (p *pass) App(name string) *structs.App { return p.apps[name] }

// FreeNodes implements burst.View: the nodes of a machine type a job could
// use now, 0 when its cluster takes no jobs or an earlier job holds them.
func (p *pass) FreeNodes(name string) int {
	m := p.mts[name]
	if m == nil || p.clusters[m.Cluster] == nil || p.notReady[m.Cluster] != "" || p.reserved[name] != "" {
		return 0
	}
	return p.free[name]
}

// RuleJobs implements burst.View.
func (p *pass) RuleJobs(rule string) int { return p.ruleJobs[rule] }

// RuleNodes implements burst.View.
func (p *pass) RuleNodes(rule, cluster string) int { return p.ruleNodes[ruleCluster{rule, cluster}] }

// capacityText reads like "east has 3 of 8 free cpu-east nodes, job needs 4".
func capacityText(cluster, mt string, free, total, need int) string {
	return cluster + " has " + strconv.Itoa(free) + " of " + strconv.Itoa(total) + " free " + mt +
		" nodes, job needs " + strconv.Itoa(need)
}

// neverText says a job is larger than a machine type can ever be; for an
// elastic group, that the group's maximum is too small.
func neverText(cluster, mt string, total, grow, need int) string {
	if grow > 0 {
		return cluster + ": the " + mt + " node group grows to at most " + strconv.Itoa(total) + " nodes, job needs " +
			strconv.Itoa(need) + " (not scaled up)"
	}
	return cluster + " has " + strconv.Itoa(total) + " " + mt + " nodes, job needs " + strconv.Itoa(need)
}
