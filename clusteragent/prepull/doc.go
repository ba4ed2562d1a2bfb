// Package prepull keeps the hub's app catalog on one cluster: for every
// app the hub lists for the cluster (structs.AgentApp: its image and the
// machine types its AppDef allows here) it resolves the image's platforms
// (OCI index or image config), compares them with the architectures
// (kubernetes.io/arch) of each machine type's nodes, and pulls the image
// onto the nodes it can run on with one short-lived pod per node and
// image (no DaemonSet stays behind). The result, per app and machine
// type — ready, pulling, failed, not runnable with the reason, or not
// pulled when the app opted out — is the structs.ClusterCatalog the agent
// reports to the hub, whose placement never sends a job to a machine type
// its app's image cannot run on.
//
// A private image is read and pulled with its app's pull credential
// (structs.AgentApp.PullSecret, a docker config JSON): its pull pods name
// a kubernetes.io/dockerconfigjson Secret per credential in the pull
// namespace, and the namespace holds no other: the Secret of a credential
// no app of the catalog has any more (removed, rotated, its app gone or
// no longer allowed here) is deleted, also after an agent restart.
//
// Decide is the pure core (catalog, machine types, nodes, images and the
// pulls seen → the report and the pulls wanted); Syncer is the shell: it
// watches the hub's catalog, reads the nodes from the agent's node
// informer and the pull pods from its own informer (no LIST per pass),
// skips passes whose inputs did not change, resolves images (Platforms,
// catalog-sync/source's reader) and creates and deletes the pull pods.
package prepull
