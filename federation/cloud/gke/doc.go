// Package gke is the Google Kubernetes Engine provider of `flotilla
// cloud`: the GKE cluster (with a small system pool), one node pool per
// machine type (its machine type, accelerators for GPU types, the labels
// and taints the agent expects), and a kubeconfig with an OAuth access
// token from the application default credentials — through
// cloud.google.com/go/container and golang.org/x/oauth2, never gcloud.
// With elastic machine types it also gives the agent its access: a
// project custom role and its grant to the agent's Kubernetes
// ServiceAccount by Workload Identity, through the IAM and Resource
// Manager REST APIs (plain JSON over the credentials' HTTP client).
package gke
