// Package jobs is the one home of what happens to a job before it is
// logged: Admit turns a submission into the command that stores it, and
// Cancel turns a caller's stop into the command that ends it. Every entry
// point uses them — the REST API (POST /v1/jobs), the JARVICE surface
// (/jarvice/submit) and, later, the portal — so a job is checked the same
// way however it comes in; the API only decodes and encodes, the hub
// (federation/hub) only wires and replicates.
//
// Both are pure: a snapshot of the hub's state, the caller (an
// authz.Identity), the request and the time in; a command or a typed
// error out. No clock, no I/O, no randomness: the hub stamps a job ID
// before it calls Admit.
//
// Admit checks, in this order: the caller is a user; the submission's
// own fields (structs.JobSubmitRequest.Validate); whether its ID names a
// job already stored (the same submitter's: that job is the answer, so a
// retry never makes a second job; another's: ErrConflict); the team it
// is charged to (the caller's, and one that exists); the machine type,
// app and vault it names exist (ErrInvalid); the caller may use them
// (policy/access: app visibility, machine-type privileges, the vault's
// tenant, then every named access rule — a denial is 403 naming the
// rule); the job fits them (scale, the app's machines and commands; the
// app's default command and walltime are filled in); its dependency
// (Slurm's --dependency, deps.go) names jobs the caller may read and can
// still hold. The job is stamped with its submit time and its owner's
// uid/gid, and starts QUEUED — or HELD with the substatus "Dependency:
// ..." while its dependency waits, until the dispatcher's dependency check
// (federation/placement, Dependencies) releases or ends it: limits never
// refuse a job, the dispatcher holds one over a limit (HELD).
package jobs
