package state

import (
	"fmt"
	"time"
)

// The indexers below read fields through typed accessors rather than
// reflection. Strings end in NUL, so "a" and "ab" never share a key prefix.
//
// Numbers are written big-endian one nibble per byte (16 bytes), so index
// order is numeric order. With one byte per digit, sequentially numbered keys
// would pile up to 256 children on a radix node, and every write
// transaction copies the nodes on its path: 16 children per node keeps that
// copy small on the hot submit path.

// strIndex indexes one string; "" is a missing value.
type strIndex func(obj any) string

func (f strIndex) FromObject(obj any) (bool, []byte, error) {
	s := f(obj)
	if s == "" {
		return false, nil, nil
	}
	return true, appendStr(make([]byte, 0, len(s)+1), s), nil
}

func (f strIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("want 1 argument, got %d", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("argument is %T, want string", args[0])
	}
	return appendStr(nil, s), nil
}

// pairIndex indexes two strings, e.g. (tenant, name). Lookups may give the
// first string only, which matches every pair starting with it.
type pairIndex func(obj any) (string, string)

func (f pairIndex) FromObject(obj any) (bool, []byte, error) {
	a, b := f(obj)
	if a == "" || b == "" {
		return false, nil, nil
	}
	return true, appendStr(appendStr(make([]byte, 0, len(a)+len(b)+2), a), b), nil
}

func (f pairIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("want 1 or 2 arguments, got %d", len(args))
	}
	var key []byte
	for _, a := range args {
		s, ok := a.(string)
		if !ok {
			return nil, fmt.Errorf("argument is %T, want string", a)
		}
		key = appendStr(key, s)
	}
	return key, nil
}

// uintIndex indexes one uint64.
type uintIndex func(obj any) uint64

func (f uintIndex) FromObject(obj any) (bool, []byte, error) {
	return true, appendUint(make([]byte, 0, uintKeyLen), f(obj)), nil
}

func (f uintIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("want 1 argument, got %d", len(args))
	}
	n, ok := args[0].(uint64)
	if !ok {
		return nil, fmt.Errorf("argument is %T, want uint64", args[0])
	}
	return appendUint(make([]byte, 0, uintKeyLen), n), nil
}

// strUintIndex indexes (string, uint64), e.g. (tenant, job number), ordered
// by the number within each string; "" is a missing value. Lookups may give
// the string only (all its entries) or both (a lower bound).
type strUintIndex func(obj any) (string, uint64)

func (f strUintIndex) FromObject(obj any) (bool, []byte, error) {
	s, n := f(obj)
	if s == "" {
		return false, nil, nil
	}
	return true, appendUint(appendStr(make([]byte, 0, len(s)+1+uintKeyLen), s), n), nil
}

func (f strUintIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("want 1 or 2 arguments, got %d", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("argument is %T, want string", args[0])
	}
	key := appendStr(make([]byte, 0, len(s)+1+uintKeyLen), s)
	if len(args) == 2 {
		n, ok := args[1].(uint64)
		if !ok {
			return nil, fmt.Errorf("argument is %T, want uint64", args[1])
		}
		key = appendUint(key, n)
	}
	return key, nil
}

// unixNanos orders a time as an index key: nanoseconds since the Unix
// epoch, 0 for earlier times (and the zero time).
func unixNanos(t time.Time) uint64 {
	if t.Unix() < 0 {
		return 0
	}
	return uint64(t.UnixNano())
}

// multiStrIndex indexes every non-empty string of a list.
type multiStrIndex func(obj any) []string

func (f multiStrIndex) FromObject(obj any) (bool, [][]byte, error) {
	var keys [][]byte
	for _, s := range f(obj) {
		if s != "" {
			keys = append(keys, appendStr(make([]byte, 0, len(s)+1), s))
		}
	}
	return len(keys) > 0, keys, nil
}

func (f multiStrIndex) FromArgs(args ...any) ([]byte, error) {
	return strIndex(nil).FromArgs(args...)
}

const uintKeyLen = 16

// appendUint appends n big-endian, one nibble per byte.
func appendUint(b []byte, n uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, byte(n>>uint(shift))&0xf)
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	return append(append(b, s...), 0)
}
