// Package auth authenticates callers of the hub API and decides what they
// may do.
//
// Callers are local accounts (bcrypt passwords), API keys, cluster agents
// (agent keys) and a bootstrap administrator from configuration. An API
// key is "flk_<id>_<secret>" (agent keys start "fla_"): the id finds the
// key's owner through a store index and only the SHA-256 of the whole key
// is stored, so checking a key costs one hash and one index lookup, never
// a bcrypt. Keys are shown once, when created.
//
// An Identity carries who the caller is: user, tenant, teams, role. Its
// methods are the RBAC rules: an administrator of the system tenant
// (Config.SystemTenant) may do everything; a tenant administrator
// everything inside their tenant; a team administrator manages only the
// teams they administer and the jobs and users in them; a user reads their
// tenant's shared objects and controls their own jobs. Objects of another
// tenant are never visible.
//
// Secrets (passwords, keys) never appear in errors or logs.
package auth
