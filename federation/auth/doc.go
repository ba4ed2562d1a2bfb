// Package auth authenticates callers of the hub API: it turns credentials
// into an authz.Identity and does nothing else (what an identity may do
// is federation/authz's and policy/access's to decide).
//
// Callers are local accounts (bcrypt passwords), API keys, cluster agents
// (agent keys) and a bootstrap administrator from configuration. An API
// key is "flk_<id>_<secret>" (agent keys start "fla_"): the id finds the
// key's owner through a store index and only the SHA-256 of the whole key
// is stored, so checking a key costs one hash and one index lookup, never
// a bcrypt. Keys are shown once, when created. A disabled user, or a user
// of a disabled tenant, is refused whatever their credential: every key
// of theirs, their password, and the configured bootstrap key once the
// bootstrap administrator's record is stored.
//
// An Identity carries who the caller is: user, tenant, teams, role, or
// the cluster of an agent. Administrators of the system tenant
// (Config.SystemTenant) are global administrators.
//
// Secrets (passwords, keys) never appear in errors or logs.
package auth
