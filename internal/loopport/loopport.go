// Package loopport hands out loopback TCP ports to test harnesses that
// must know a port before something listens on it (a control plane's
// etcd and API server, a hub process) or that listen on it again later (a
// replica restarted on its old address).
//
// A port picked by listening on ":0" and closing comes from the kernel's
// ephemeral range, where any other process's listen on ":0" may take it
// before the intended owner binds it (or binds it again after a restart):
// a suite then fails with "address already in use", or worse talks to
// another suite's server. loopport picks ports below the ephemeral range
// instead, which the kernel never assigns by itself, and reserves each one
// for the life of the process that took it: an exclusive flock(2) on a
// per-port file under the temporary directory (a directory per user),
// held until the process exits. Cooperating processes (every test binary
// of this module) never get a port another live one holds; the lock dies
// with its process, so nothing needs cleaning up.
package loopport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// pool is a half-open range of ports [lo, hi).
type pool struct{ lo, hi int }

// lowest is the lowest port handed out: above the well-known and most
// registered service ports.
const lowest = 10000

var (
	mu   sync.Mutex
	held []*os.File // the locks of reserved ports, open for the process's life
	// poolFor is the range to pick from; a test narrows it.
	poolFor = defaultPool
	// lockDir holds the per-port lock files, one directory per user (so
	// that another user's files never stand in the way).
	lockDir = filepath.Join(os.TempDir(), "flotilla-loopports-"+strconv.Itoa(os.Getuid()))
)

// ErrExhausted means every port of the range is reserved or in use.
var ErrExhausted = errors.New("loopport: no free port left below the ephemeral range")

// defaultPool is [lowest, start of the kernel's ephemeral range).
func defaultPool() (pool, error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return pool{}, fmt.Errorf("loopport: ephemeral port range: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return pool{}, fmt.Errorf("loopport: ephemeral port range %q", b)
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return pool{}, fmt.Errorf("loopport: ephemeral port range %q: %w", b, err)
	}
	if lo-lowest < 1000 {
		return pool{}, fmt.Errorf("loopport: the ephemeral range starts at %d, leaving fewer than 1000 ports above %d", lo, lowest)
	}
	return pool{lowest, lo}, nil
}

// Listen reserves a port for this process and listens on it at
// 127.0.0.1 (where there is no ephemeral range to read, it listens on a
// port the kernel picks). The port stays reserved after the listener closes, so the
// caller may listen on it again (faultnet.Listen retries while a closing
// socket still holds it).
func Listen() (net.Listener, error) {
	mu.Lock()
	defer mu.Unlock()
	p, err := poolFor()
	if err != nil {
		// No ephemeral range to stay out of (not Linux): the kernel's pick.
		return net.Listen("tcp", "127.0.0.1:0")
	}
	if err := os.MkdirAll(lockDir, 0o700); err != nil {
		return nil, fmt.Errorf("loopport: %w", err)
	}
	n := p.hi - p.lo
	start := rand.IntN(n)
	for k := range n {
		port := p.lo + (start+k)%n
		lock, err := tryLock(port)
		if err != nil {
			return nil, err
		}
		if lock == nil {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil { // a process that does not take part holds it
			_ = lock.Close()
			continue
		}
		held = append(held, lock)
		return ln, nil
	}
	return nil, ErrExhausted
}

// Reserve reserves a port for this process, free on 127.0.0.1 when it
// returns, for a program the caller starts to listen on.
func Reserve() (int, error) {
	ln, err := Listen()
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return 0, fmt.Errorf("loopport: %w", err)
	}
	return port, nil
}

// tryLock takes port's lock without waiting; nil if another open lock
// (of this or another process) holds it.
func tryLock(port int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(lockDir, strconv.Itoa(port)), os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("loopport: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("loopport: lock port %d: %w", port, err)
	}
	return f, nil
}
