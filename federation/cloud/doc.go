// Package cloud makes Kubernetes clusters in a cloud and joins them to the
// hub: `flotilla cloud up|plan|down`. A Provider (federation/cloud/eks,
// federation/cloud/gke; a third such as AKS implements the same small
// interface) knows its cloud's steps — IAM roles, the cluster, one node
// group or pool per machine type — and how to create, wait for and delete
// each, and how to reach the new cluster's API server without shelling out
// to the cloud's CLI. The engine here runs the plan in dependency order,
// prints a progress line per step with the elapsed time and the cloud's own
// operation status, records each step as it completes in the hub (a
// structs.CloudDeployment per cluster) so a second run resumes, installs
// the agent with client-go (agentinstall: the objects the Helm chart
// renders, with the elastic node groups' flags) with a bootstrap token from
// the hub, registers the cluster and its machine types, and takes all of it
// down again in reverse order. Resizer is how a provider resizes a node
// group for the agent's elastic loop (through federation/cloud/connect).
package cloud
