package placement

import (
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Options tune a placement pass.
type Options struct {
	// FairShare orders jobs within a priority class by their team's
	// running cores, fewest first, instead of strictly first-in first-out.
	FairShare bool
	// Backfill lets later jobs use free nodes an earlier waiting job of
	// the same machine type cannot use yet.
	Backfill bool
	// HeartbeatTimeout, when positive, treats a cluster not heard from for
	// longer as unable to take jobs.
	HeartbeatTimeout time.Duration
}

// Input is everything a pass looks at. Jobs holds the queue and the jobs
// that use resources: QUEUED and SUBMITTED jobs are placed; ASSIGNED,
// STARTING and RUNNING jobs count as usage; HELD and finished jobs are
// ignored. Nothing in Input is modified.
type Input struct {
	Now          time.Time
	Jobs         []*structs.Job
	Clusters     []*structs.Cluster
	MachineTypes []*structs.MachineType
	Apps         []*structs.App
	Vaults       []*structs.Vault
	Users        []*structs.User
	Limits       []*structs.Limit
	BurstRules   []*structs.BurstRule
	AccessRules  []*structs.AccessRule
	Options      Options
	// AgentFeatures says the hub records agents' features
	// (structs.Cluster.Agent): every replica applies the command that
	// stores them. Then a job goes only to clusters whose agent lists
	// every feature it needs (structs.Job.NeedsFeatures), and a cluster
	// without a record has an agent older than feature reports, which
	// honours none. False (a rolling upgrade of the hub under way):
	// features are not looked at, as before they existed.
	AgentFeatures bool
}

// Assignment places a job on a cluster and machine type. BurstRule is set
// when a burst rule chose a machine type other than the job's own; the hub
// records it (structs.JobAssignment) so caps and usage count it.
type Assignment struct {
	JobID       string
	Cluster     string
	MachineType string
	BurstRule   string
	// Reason reads like "pinned to east" or "burst by rule R to cpu-west after 5s".
	Reason string
}

// Held is a job a limit holds.
type Held struct {
	JobID  string
	Limit  string
	Reason string
}

// Pending is a job left in the queue, and why.
type Pending struct {
	JobID  string
	Reason string
}

// Plan is the outcome of a pass. Each list is in the order the jobs were
// decided: queue order (with fair share, as interleaved by it).
type Plan struct {
	Assignments []Assignment
	Held        []Held
	Pending     []Pending
}
