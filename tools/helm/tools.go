//go:build tools

// Package tools pins the helm command built into ./bin.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
