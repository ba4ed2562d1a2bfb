// Package limits evaluates the admin limits that queue jobs: limits per
// tenant (the payer), per team inside a tenant and per user, on concurrent
// jobs and nodes per machine type and on total concurrent cores and GPUs.
//
// A job over a limit is HELD, never rejected. Usage counts the jobs that
// hold resources: ASSIGNED, STARTING and RUNNING, on the machine type each
// runs on. Evaluate decides one job; a Ledger decides many in queue order,
// adding each admitted job to the usage it checks the next against, and
// Release re-evaluates held jobs (after a job ends or a limit changes) and
// frees those that now fit.
//
// Queue order holds per limit: once a job is held by a limit, later jobs
// counted by the same limit (and machine type) wait behind it, so small
// jobs cannot starve a large one. A job that exceeds a limit on its own
// (it needs more than the limit allows at all) is held until the limit is
// raised and blocks nobody.
//
// A limit's value is taken literally: 0 allows nothing, which pauses a
// tenant, team or user. The package is pure: no I/O, no clock, no state
// between calls.
package limits
