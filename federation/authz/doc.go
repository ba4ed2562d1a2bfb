// Package authz decides what an authenticated caller may do with the
// hub's administrative objects: tenants, teams, users and their API keys
// and passwords, limits, jobs, and the writing of vaults and apps. It is
// pure: an Identity (built by federation/auth from credentials) and the
// objects in question in, a decision out.
//
// It is a package of its own, not part of federation/auth, because the
// two change for different reasons: auth turns credentials into an
// Identity (bcrypt, key hashes, the store's records); authz is the
// tenancy's rules, which the API, job admission (federation/jobs) and
// tests use without any credential. Who may see and use apps, vaults and
// machine types is not decided here but in policy/access, which an
// Identity names itself to through Subject.
//
// The rules: an administrator of the system tenant may do everything; a
// tenant administrator everything inside their tenant; a team
// administrator manages only the teams they administer and the jobs and
// plain users in them; a user reads their tenant's shared objects and
// controls their own jobs. Objects of another tenant are never visible.
// Every check returns nil or an ErrForbidden error naming the object
// (never a secret).
package authz
