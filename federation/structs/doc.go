// Package structs holds the hub's domain types: tenants, teams, users,
// clusters, machine types, vaults, apps, limits, burst rules, jobs and their
// state machine, accounting and audit records, the messages carried in the
// raft log, and the typed errors every layer maps to a response.
//
// The package does no I/O. Types that the state store keeps have a Copy
// method returning a deep copy and a Validate method checking the fields a
// writer must supply.
package structs
