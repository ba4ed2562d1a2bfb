// Package placement is the hub's federation dispatcher: a pure function
// from the queued jobs, the clusters with the capacity their agents
// report, the active jobs (for limit usage, caps and fair share), the
// limits, burst rules and access rules, and the current time, to a Plan:
// which job goes to which cluster and machine type and why, which jobs are
// held by a limit, and why the rest stay pending. It does no I/O, reads
// no clock and keeps no state between calls; the same Input always gives
// the same Plan, whatever the order of its slices.
//
// # Order
//
// QUEUED and SUBMITTED jobs are considered by priority class (highest,
// high, normal), first-in first-out within a class (structs.CompareQueue).
// With Options.FairShare, within a class the next job comes from the team
// (tenant and team; jobs without a team form one group per tenant) with the
// fewest cores running, counting assignments made earlier in the pass, ties
// going to the earlier job.
//
// # Where a job goes
//
// A job goes to its machine type's pinned cluster when it can; otherwise
// to the first burst target (package burst) that can take it. A cluster
// takes a job when it is ready (and, with Options.HeartbeatTimeout, heard
// from recently), the access rules admit the user on the machine type and
// the cluster (package access), the job's vault zone (if any) equals the
// cluster's zone, the limits admit the job on that machine type (package
// limits), the job's app can run there (the cluster's agent did not report
// its image not runnable on the machine type's nodes, e.g. built for
// another architecture: structs.ClusterCatalog), the cluster's agent
// lists every feature the job needs (structs.Job.NeedsFeatures: an
// environment, a working directory, an array; with Input.AgentFeatures
// only, and an agent that never reported features lists none), the
// machine type's MaxConcurrent (jobs of that machine type at
// once, federation-wide) is not reached, and enough nodes are free.
//
// # Capacity
//
// Free nodes are what the cluster reported for the machine type, plus the
// nodes its elastic node group can still add (Capacity.Grow: the agent
// provisions them when the job arrives, so a burst to a cloud machine
// type at size 0 costs nothing while idle), minus
// the nodes of jobs already ASSIGNED to it (the agent has not bound them
// yet, so its report does not show them; this errs on the side of not
// over-assigning), minus what this pass assigns. A pass never assigns
// more nodes than that.
//
// Without Options.Backfill, a job that waits for nodes of its own machine
// type holds that type's free nodes: later jobs in queue order may not use
// them (they may still burst elsewhere), so small jobs cannot starve a big
// one. A job larger than the machine type's total nodes blocks nobody. With
// Backfill, later jobs may use free nodes an earlier job cannot.
//
// # Outcomes
//
// A job the limits hold on its own machine type, and that no burst target
// takes, is Held with the limit and reason (the hub moves it to HELD, and
// limits.Release frees it later); later jobs under the same limit wait
// behind it. Any other job left over is Pending with a reason such as
// "east has 0 of 8 free cpu-east nodes, job needs 2; no burst rule
// applies". HELD jobs in the input are never assigned.
//
// ExpiredAssignments finds assignments no agent accepted within a
// timeout, to be put back in the queue.
package placement
