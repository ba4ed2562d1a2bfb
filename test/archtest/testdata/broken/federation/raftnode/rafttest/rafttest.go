// Package rafttest is a harness package: it may import testing and call
// time.Now.
package rafttest

import (
	"testing"
	"time"
)

// Deadline is a deadline for t.
func Deadline(t testing.TB) time.Time { return time.Now().Add(time.Minute) }
