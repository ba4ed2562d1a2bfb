package filer

import "time"

// Decision is what to do with one filer.
type Decision struct {
	// Delete removes the filer now.
	Delete bool
	// Recheck, when positive, is how soon the decision may change without
	// any new event (the rest of the grace period).
	Recheck time.Duration
}

// Decide is the filer's fate: refs jobs use it; lastUsed is when it was last
// seen in use (zero: never seen unused, which counts as in use now). A
// filer in use is kept; an unused one is deleted once grace has passed
// since its last use, and kept until then.
func Decide(refs int, lastUsed, now time.Time, grace time.Duration) Decision {
	if refs > 0 || lastUsed.IsZero() {
		if refs == 0 {
			return Decision{Recheck: grace}
		}
		return Decision{}
	}
	idle := now.Sub(lastUsed)
	if idle >= grace {
		return Decision{Delete: true}
	}
	return Decision{Recheck: grace - idle}
}
