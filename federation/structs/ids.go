package structs

import (
	"crypto/rand"
	"sync/atomic"
)

// idCounter orders the IDs one process makes: it starts at a random value
// and counts up, so that the IDs a process makes in a row share a long
// prefix. The store indexes jobs and audit events by ID in radix trees;
// keys that arrive in order share the path a write transaction copies
// (about 8 allocations per row instead of 28 for scattered random keys).
var idCounter atomic.Uint64

func init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	idCounter.Store(n)
}

// idAlphabet is the characters of base 32 as rand.Text writes them,
// lower-cased, in byte order: counters written with it sort as numbers.
const idAlphabet = "234567abcdefghijklmnopqrstuvwxyz"

// newID is prefix and 26 base-32 characters: 13 of the process's counter
// (64 bits, most significant first) and 13 random ones (65 bits), so an ID
// is unique across processes and restarts as a random one is, and
// shaped like one (lower-case letters and digits 2-7).
func newID(prefix string) string {
	n := idCounter.Add(1)
	// One allocation, the string: the characters are put together on the
	// stack (a builder, rand.Text and its lower-casing made three).
	var buf [maxIDPrefix + 26]byte
	b := append(buf[:0], prefix...)
	for shift := 60; shift >= 0; shift -= 5 {
		b = append(b, idAlphabet[(n>>uint(shift))&31])
	}
	var r [13]byte
	_, _ = rand.Read(r[:])
	for _, c := range r {
		b = append(b, idAlphabet[c&31])
	}
	return string(b)
}

// maxIDPrefix is the longest prefix newID is given without allocating
// twice.
const maxIDPrefix = 6
