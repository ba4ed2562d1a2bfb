// Package portal is Flotilla's web portal: server-rendered pages (catalog,
// a submit form generated from each AppDef, jobs with live status, API
// keys, administration) served by every hub replica under /ui/, with
// templates and assets embedded (go:embed; no npm at build or run time).
//
// Login is OIDC (authorization code with PKCE, github.com/coreos/go-oidc)
// with the ID token's email and groups mapped to user, tenant, teams and
// role by the administrators' claim rules (rules.go), or a local account's
// password. A session is a random "fls_" key in an HttpOnly, Secure,
// SameSite=Lax cookie; only its hash is stored, on the user's record
// through the replicated write path, so every replica accepts it, a
// leader change or a restart keeps it, and logout (removing it) ends it
// everywhere. Every state-changing request carries a CSRF token derived
// from the session key (an HMAC), checked in constant time.
//
// The portal talks to its replica through two narrow interfaces: Hub
// (the local store, the forwarded write path, linearizable reads) for
// sessions and live updates, and API (api.Server.ServeAs) for everything
// else: reads and writes go through the REST API's own handlers as the
// session's identity — the same RBAC, tenant walls, admission and
// forwarding to the leader — via the typed Go client on an in-process
// transport. Objects the caller may not see are reported as not found.
package portal
