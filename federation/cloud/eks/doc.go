// Package eks is the Amazon EKS provider of `flotilla cloud`: IAM roles for
// the cluster and its nodes (with the managed policies EKS needs), the EKS
// cluster, one managed node group per machine type (its instance type, the
// AL2023 NVIDIA AMI for GPU types, the labels and taints the agent
// expects), with elastic machine types the agent's IAM role, the
// eks-pod-identity-agent add-on and the role's Pod Identity association
// with the agent's ServiceAccount, and a kubeconfig whose token is a presigned STS
// GetCallerIdentity request, as `aws eks get-token` makes it — all through
// aws-sdk-go-v2, never the aws CLI.
package eks
