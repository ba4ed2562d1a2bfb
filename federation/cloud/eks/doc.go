// Package eks is the Amazon EKS provider of `flotilla cloud`: IAM roles for
// the cluster and its nodes (with the managed policies EKS needs), the EKS
// cluster, one managed node group per machine type (its instance type, the
// AL2023 NVIDIA AMI for GPU types, the labels and taints the agent
// expects), and a kubeconfig whose token is a presigned STS
// GetCallerIdentity request, as `aws eks get-token` makes it — all through
// aws-sdk-go-v2, never the aws CLI.
package eks
