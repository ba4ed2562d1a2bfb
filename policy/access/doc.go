// Package access makes every decision about who may see and use the
// hub's apps, data (vaults) and hardware (machine types and clusters), and
// which clusters a job may run on. Nothing else in the hub decides them:
// the API's listings, a job's admission (federation/jobs) and placement
// all ask here.
//
// The asker is a Subject: a user's name, tenant and groups, and whether
// they administer their tenant or the whole hub. Built-in rules come
// first: an app is visible by its Visibility (public: every user; tenant:
// its tenant's users; private: its owner and its tenant's
// administrators); a machine type with Privs is for users in one of those
// groups; a vault is its tenant's; global administrators see and use
// every app and machine type and every vault. A job is submitted only in
// the submitter's own tenant, with a vault of that tenant. Then every
// structs.AccessRule matching an object must pass, global administrators
// included: the user in one of its Groups (when it names any) and the
// job's tenant one of its Tenants (when it names any). Rules on apps,
// machine types and vaults may also carry ClusterLabels: a job using such
// an object runs only on clusters carrying all those labels (an
// export-controlled app only on clusters labelled region=us). Cluster
// rules say who may run on a cluster.
//
// AppVisible, MachineTypeUsable and VaultVisible answer for one object
// (listings, reads); CheckSubmit runs at submission; MachineTypeAllowed
// and ClusterAllowed run at placement, for the pinned cluster and every
// burst target, with the job owner's record (UserSubject: no
// administrator's rights). A denial is a *DeniedError naming the rule; it
// wraps structs.ErrForbidden. Rules are tried in name order, so the rule
// named in a denial does not depend on the order rules were given. A
// subject without a username (an agent, an unknown owner) is no user:
// it sees no app and passes no group condition, so the checks fail
// closed.
package access
