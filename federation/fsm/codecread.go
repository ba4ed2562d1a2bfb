package fsm

import (
	"encoding/binary"
	"math"
	"strings"
	"time"
)

// jobReader reads the binary forms (the job, the audit event, the state
// update); the first error sticks and every later read returns a zero
// value.
//
// Strings come out in one of two ways. A name (a tenant, a state, a
// parameter's key...) is interned (see interner): no allocation once the
// FSM has met it. Every other string (an ID, a log tail) is kept pending,
// as a span of the body, until finish copies all of them into one new
// string and slices it: one allocation per body, the size of those
// strings alone, so the names and the body's framing are not kept alive
// by the strings a replica stores.
type jobReader struct {
	b   []byte
	err error
	in  *interner // nil: no table (names are copied like the others)

	pend   [maxPending]pendingString
	npend  int
	total  int
	params map[string]string // the target of pending parameter values
}

// maxPending bounds the strings finish copies together; more are copied
// one by one (a job with many parameters).
const maxPending = 24

// pendingString is a string waiting for finish: b's bytes go to *dst, or
// to params[key] when dst is nil.
type pendingString struct {
	b   []byte
	dst *string
	key string
}

func (r *jobReader) fail() { r.err, r.b = errJobBody, nil }

func (r *jobReader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *jobReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *jobReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// int reads a varint that must fit a Go int.
func (r *jobReader) int() int {
	v := r.varint()
	if v < math.MinInt || v > math.MaxInt {
		r.fail()
		return 0
	}
	return int(v)
}

// bytes reads a length-prefixed string as a view of the body (nil when
// empty or on error): for JSON documents, which are parsed, not kept.
func (r *jobReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > maxJobString || n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

// name reads a string that repeats across commands, interned.
func (r *jobReader) name() string { return r.in.intern(r.bytes()) }

// str reads a string into *dst, which finish sets (it stays "" until
// then, and for good if the body turns out malformed).
func (r *jobReader) str(dst *string) { r.later(r.bytes(), dst, "") }

// later sets *dst (or params[key] when dst is nil) to b's bytes at finish.
func (r *jobReader) later(b []byte, dst *string, key string) {
	if len(b) == 0 || r.err != nil {
		return
	}
	if r.npend == maxPending {
		r.set(dst, key, string(b))
		return
	}
	r.pend[r.npend] = pendingString{b: b, dst: dst, key: key}
	r.npend++
	r.total += len(b)
}

func (r *jobReader) set(dst *string, key, s string) {
	if dst != nil {
		*dst = s
	} else {
		r.params[key] = s
	}
}

// finish copies the pending strings into one string and hands out its
// slices; it returns the reader's error (then nothing is set), or an
// error for bytes left over.
func (r *jobReader) finish() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail() // trailing bytes
	}
	if r.err != nil || r.npend == 0 {
		return r.err
	}
	var sb strings.Builder
	sb.Grow(r.total)
	for _, p := range r.pend[:r.npend] {
		sb.Write(p.b)
	}
	s := sb.String()
	off := 0
	for i := range r.pend[:r.npend] {
		p := &r.pend[i]
		r.set(p.dst, p.key, s[off:off+len(p.b)])
		off += len(p.b)
	}
	return nil
}

func (r *jobReader) time() time.Time {
	switch r.byte() {
	case 0:
		return time.Time{}
	case 1:
	default:
		r.fail()
		return time.Time{}
	}
	sec, nsec := r.varint(), r.uvarint()
	if r.err != nil || nsec >= uint64(time.Second) {
		r.fail()
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if t.IsZero() { // the zero instant has its own presence byte
		r.fail()
		return time.Time{}
	}
	return t
}
