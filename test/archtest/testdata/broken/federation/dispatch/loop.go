// Package dispatch reads the clock and the default logger itself: two
// violations. A clock passed in, and a method named Now, are fine.
package dispatch

import (
	"log/slog"
	"time"
)

// Tick logs the time.
func Tick() {
	now := time.Now()
	slog.Default().Info("tick", "at", now)
}

// Loop has an injected clock.
type Loop struct{ Now func() time.Time }

// At reads the injected clock.
func (l Loop) At() time.Time { return l.Now() }
