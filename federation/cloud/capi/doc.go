// Package capi discovers clusters from a Cluster API management cluster
// and joins them to the hub: the Controller watches the management
// cluster's Cluster objects that match a label selector, waits until each
// is provisioned (phase Provisioned, control plane initialized) and its
// <name>-kubeconfig Secret exists, registers it at the hub (labelled
// flotilla.io/managed-by=cluster-api and flotilla.io/capi-cluster=<ns>/<name>),
// turns its MachineDeployments' flotilla.io/* annotations into machine
// types pinned to it (MachineTypeOf), issues a bootstrap token and
// installs the agent into it (agentinstall). When the Cluster is deleted,
// or stops matching the selector, the controller deletes its machine types
// and unregisters it.
//
// No finalizer is set: deleting a Cluster is never held up by the hub.
// Instead every pass compares the hub's clusters carrying the managed-by
// label with the Clusters it lists ("tombstone by comparison"), so a
// deletion that happened while no controller ran is still noticed on the
// next start. The decision is pure (Decide: observed Clusters + hub state
// + now → actions); Controller only observes and carries it out.
package capi
