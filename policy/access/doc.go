// Package access decides who may use which apps, machine types, vaults and
// clusters, and which clusters a job may run on.
//
// Built-in rules come first: a user submits only in their own tenant; an
// app is visible by its Visibility (public, tenant, private); a machine
// type with Privs is for users in one of those groups; a vault belongs to
// the job's tenant. Then every structs.AccessRule matching an object must
// pass: the user in one of its Groups (when it names any) and the job's
// tenant one of its Tenants (when it names any). Rules on apps, machine
// types and vaults may also carry ClusterLabels: a job using such an object
// runs only on clusters carrying all those labels (an export-controlled
// app only on clusters labelled region=us). Cluster rules say who may run
// on a cluster.
//
// CheckSubmit runs at submission; MachineTypeAllowed and ClusterAllowed run
// at placement, for the pinned cluster and for every burst target. A
// denial is a *DeniedError naming the rule; it wraps structs.ErrForbidden.
// Rules are tried in name order, so the rule named in a denial does not
// depend on the order rules were given. Unknown users (nil) pass no
// group condition: the checks fail closed.
package access
