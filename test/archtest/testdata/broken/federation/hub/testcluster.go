// Package hub is a production package that imports testing: a violation.
package hub

import "testing"

// Cluster is a test cluster compiled into the hub.
type Cluster struct{ t testing.TB }
