package fsm

import (
	"fmt"
	"testing"
	"unsafe"
)

// sameString reports whether a and b are one string in memory.
func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// TestInternerBounded: a name met again is the string handed out before
// and costs no allocation; long strings are never entered; a full table
// is emptied before it takes the next name, and what it handed out stays
// valid.
func TestInternerBounded(t *testing.T) {
	in := newInterner()
	first := in.intern([]byte("acme"))
	again := []byte("acme")
	if allocs := testing.AllocsPerRun(100, func() { _ = in.intern(again) }); allocs != 0 {
		t.Errorf("a known name costs %.0f allocations", allocs)
	}
	if !sameString(first, in.intern(again)) {
		t.Error("a known name is a new string")
	}
	long := make([]byte, maxInternLen+1)
	in.intern(long)
	if _, ok := in.m[string(long)]; ok {
		t.Error("a string longer than maxInternLen was entered")
	}
	for i := range 2 * maxInternEntries {
		in.intern([]byte(fmt.Sprintf("name-%d", i)))
		if len(in.m) > maxInternEntries {
			t.Fatalf("the table holds %d names", len(in.m))
		}
	}
	if first != "acme" {
		t.Errorf("a handed-out name changed: %q", first)
	}
	var none *interner
	if got := none.intern([]byte("x")); got != "x" {
		t.Errorf("a nil table: %q", got)
	}
}
