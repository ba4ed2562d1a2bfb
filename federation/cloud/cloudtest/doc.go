// Package cloudtest holds wire-level fakes of the cloud APIs `flotilla
// cloud` drives, for tests: AWS (EKS REST-JSON, IAM and STS query
// protocols) on an HTTP server and GKE (the ClusterManager gRPC service)
// on a gRPC server with Google's IAM and Resource Manager REST calls on
// an HTTP server, both on loopback and driven through the real SDK
// clients; clusters go CREATING → ACTIVE (RUNNING) over several polls and
// report a real control plane standing in for the new cluster as their
// endpoint. A token review webhook lets that control plane authenticate
// the cloud's tokens as a managed cluster's API server would.
package cloudtest
