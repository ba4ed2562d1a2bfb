// Package api serves the hub's HTTP API: REST v1 (/v1/...), the
// JARVICE-compatible surface (/jarvice/...), health (/healthz, /readyz)
// and the replicas' internal endpoints (/internal/v1/...).
//
// Every handler returns (value, error). The value is written as JSON; the
// error goes through one function, statusOf, that maps typed errors
// (structs.ErrInvalid, ErrNotFound, ...) to status codes through the one
// table in structs (structs.HTTPStatus) and writes {"error": "..."}
// (with a "code" for a path the API does not serve). Request bodies are decoded strictly: one JSON value,
// no unknown fields, at most Config.MaxBodyBytes (else 413). A request
// that fails changes nothing.
//
// Every reply names the leader's base URL in X-Flotilla-Leader (when
// known), so clients can send writes straight to it; reads and watches
// carry the raft index they were served at in X-Flotilla-Index.
// ?consistent=true makes a read linearizable.
//
// Updates that read an object and write it back (API keys, a cluster's
// registration and bootstrap token, a user's spec...) are compare-and-swap
// writes that retry on a concurrent change (see update), so none is lost.
// A PUT of an administrative object takes ?cas=N: it applies only if the
// object is still stored with modify index N (0: only if it does not exist
// yet), else 409 and nothing changes; its reply carries the indexes it
// stored the object at. A DELETE takes ?cas=N (N > 0) likewise. Deletes
// that check the caller against the stored object (apps, limits, teams,
// users) delete it only if it is still the object checked.
//
// The package asks authz and policy/access who may do what and shapes
// requests into raft commands (a job's admission is federation/jobs',
// reached through Jobs); replication, forwarding to the leader and
// retries live behind the small interfaces of replica.go (Reads, Writes,
// Jobs, Leadership, Internal, Membership), which the hub implements.
//
// A team's members are its users' Teams: a PUT of a team that lists
// members changes those users, each checked as a user change; an agent
// reads only the apps and vaults of the jobs active on its cluster.
package api
