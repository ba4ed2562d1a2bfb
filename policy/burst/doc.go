// Package burst evaluates burst rules: when a job queued for machine type X
// has waited longer than a rule's After, or X's cluster cannot take it now
// (too few free nodes, or the cluster takes no jobs) and the rule says
// WhenFull, the job may run on the rule's target machine types, which are
// pinned to other clusters, in the order the rule lists them. A rule with
// WhenFull and no After bursts only when X is full; one with neither
// bursts at once.
//
// A rule applies only to the tenants, teams and apps it names (none named
// means all; apps are how export-controlled software is kept home). A
// target is offered only when its price is within the rule's ceiling, the
// job's vault zone (when it has one) equals the target cluster's zone
// (data locality), the app's AppDef accepts the machine type, the job's
// node count fits the target's scale, and the rule's caps hold: Cap jobs
// bursted by the rule at once, and MaxTargetNodes nodes of its bursted
// jobs on each target cluster.
//
// Evaluate returns the permitted targets in order with the rule and a
// reason, or why no rule applies. It does not check the targets' free
// capacity, limits or access rules: placement does that for every
// candidate it tries. Rules are tried in name order; a target offered by
// an earlier rule is not repeated. The package is pure: the time and a
// View of the hub's state come in as arguments.
package burst
