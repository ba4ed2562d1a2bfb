package portal

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/placement"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// dryRunJob is the hypothetical job of a dry run.
type dryRunJob struct {
	MachineType, App, Command string
	Nodes                     int
	Waited                    string // how long it has been queued, e.g. "10m"
}

// dryRunResult says where the job would go right now, and why.
type dryRunResult struct {
	Outcome     string // "assigned", "held" or "pending"
	Cluster     string
	MachineType string
	Rule        string
	Reason      string
}

// dryRunID is the hypothetical job's id; no stored job has it (stored
// ids start "j-").
const dryRunID = "dry-run"

// dryRun places job among everything in in, with rule (if named)
// replacing the stored rule of that name: pure, the same placement the
// dispatcher runs.
func dryRun(in placement.Input, rule *structs.BurstRule, job *structs.Job) dryRunResult {
	if rule != nil && rule.Name != "" {
		in.BurstRules = slices.DeleteFunc(slices.Clone(in.BurstRules), func(b *structs.BurstRule) bool { return b.Name == rule.Name })
		in.BurstRules = append(in.BurstRules, rule)
	}
	var last uint64
	for _, j := range in.Jobs {
		last = max(last, j.Number)
	}
	job.Number = last + 1
	in.Jobs = append(slices.Clone(in.Jobs), job)
	plan := placement.Place(in)
	for _, a := range plan.Assignments {
		if a.JobID == job.ID {
			return dryRunResult{Outcome: "assigned", Cluster: a.Cluster, MachineType: a.MachineType, Rule: a.BurstRule, Reason: a.Reason}
		}
	}
	for _, h := range plan.Held {
		if h.JobID == job.ID {
			return dryRunResult{Outcome: "held", Reason: h.Reason}
		}
	}
	for _, pd := range plan.Pending {
		if pd.JobID == job.ID {
			return dryRunResult{Outcome: "pending", Reason: pd.Reason}
		}
	}
	return dryRunResult{Outcome: "pending", Reason: "not considered"}
}

// placementInput reads one snapshot of what placement looks at.
func placementInput(r *state.ReadTxn, now time.Time) (placement.Input, error) {
	in := placement.Input{Now: now}
	var err error
	if in.Jobs, _, err = r.ListJobs(state.JobFilter{Active: true}); err != nil {
		return in, err
	}
	steps := []func() error{
		func() (e error) { in.Clusters, e = r.Clusters(); return },
		func() (e error) { in.MachineTypes, e = r.MachineTypes(); return },
		func() (e error) { in.Apps, e = r.Apps(); return },
		func() (e error) { in.Vaults, e = r.Vaults(); return },
		func() (e error) { in.Users, e = r.Users(); return },
		func() (e error) { in.Limits, e = r.Limits(); return },
		func() (e error) { in.BurstRules, e = r.BurstRules(); return },
		func() (e error) { in.AccessRules, e = r.AccessRules(); return },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return in, err
		}
	}
	reps, err := r.Replicas()
	if err != nil {
		return in, err
	}
	in.AgentFeatures = fsm.EveryReplicaApplies(reps, fsm.TypeOf(&fsm.ClusterAgent{})) // as the dispatcher
	return in, nil
}

// adminBurstDryRun answers "where would this job go right now, and why",
// with the rule in the editor as it stands (saved or not).
func (p *Portal) adminBurstDryRun(w http.ResponseWriter, r *http.Request, s *session) error {
	rule, err := burstRuleOf(r)
	if err != nil {
		return err
	}
	d, err := p.burstView(r, s, rule)
	if err != nil {
		return err
	}
	dj := dryRunJob{MachineType: r.PostFormValue("dry_machine_type"), App: strings.TrimSpace(r.PostFormValue("dry_app")),
		Command: strings.TrimSpace(r.PostFormValue("dry_command")), Waited: strings.TrimSpace(r.PostFormValue("dry_waited"))}
	dj.Nodes, _ = strconv.Atoi(r.PostFormValue("dry_nodes"))
	d.DryJob = dj
	var waited time.Duration
	if dj.Waited != "" {
		if waited, err = time.ParseDuration(dj.Waited); err != nil || waited < 0 {
			return structs.Errorf(structs.ErrInvalid, "queued for: a duration such as 30s or 10m")
		}
	}
	if dj.Nodes < 1 {
		return structs.Errorf(structs.ErrInvalid, "nodes: at least 1")
	}
	now := p.hub.Now()
	in, err := placementInput(p.hub.Store().Read(), now)
	if err != nil {
		return err
	}
	job := &structs.Job{ID: dryRunID, Tenant: s.id.Tenant, Owner: s.id.Username, App: dj.App, Command: dj.Command,
		MachineType: dj.MachineType, Nodes: dj.Nodes, State: structs.JobQueued, SubmitTime: now.Add(-waited)}
	if rule.Name == "" {
		rule = nil
	}
	res := dryRun(in, rule, job)
	d.DryRun = &res
	return p.render(w, http.StatusOK, "admin_burstrules.html", p.newView(s, "Burst rules", "admin", d))
}
