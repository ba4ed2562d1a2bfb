package api

import (
	"crypto/sha256"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Limits bound how fast one caller may use a replica's API. Each replica
// limits on its own: a client spread over n replicas gets n times the
// rate. Zero rates mean no limit.
type Limits struct {
	// PerIdentity is the sustained rate (requests a second) of one user
	// or agent, with bursts of up to PerIdentityBurst.
	PerIdentity      float64
	PerIdentityBurst int
	// PerAddress is the sustained rate of one client address before it
	// authenticates, with bursts of up to PerAddressBurst.
	PerAddress      float64
	PerAddressBurst int
	// FailedLoginsPerMinute bounds failed authentications (wrong password,
	// unknown key) from one address: past it, the address gets 429 until
	// the budget refills, without its credentials being checked (no
	// bcrypt per attempt).
	FailedLoginsPerMinute int
}

// DefaultLimits are the limits of a replica whose configuration names none.
var DefaultLimits = Limits{PerIdentity: 200, PerIdentityBurst: 400, PerAddress: 400, PerAddressBurst: 800,
	FailedLoginsPerMinute: 30}

// rateLimitError is a refusal by a limiter; it says when to come back.
type rateLimitError struct {
	what       string
	retryAfter time.Duration
}

func (e *rateLimitError) Error() string {
	return fmt.Sprintf("%s: too many requests, retry after %s", e.what, e.retryAfter.Round(time.Second))
}

func (e *rateLimitError) Unwrap() error { return structs.ErrRateLimited }

// retryAfterSeconds is the Retry-After value of e: whole seconds, at least 1.
func (e *rateLimitError) retryAfterSeconds() string {
	return strconv.Itoa(max(1, int(math.Ceil(e.retryAfter.Seconds()))))
}

// buckets is a set of token buckets, one per key, refilled at rate tokens
// a second up to burst. Idle buckets that would be full again are dropped
// as the set grows, so memory stays bounded by the active callers.
type buckets struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	m       map[string]*bucket
	sweepAt int
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newBuckets(rate float64, burst int, now func() time.Time) *buckets {
	if rate <= 0 {
		return nil // no limit
	}
	return &buckets{rate: rate, burst: float64(max(burst, 1)), now: now, m: map[string]*bucket{}, sweepAt: 1024}
}

// take spends one token of key's bucket; when there is none it says how
// long until there is.
func (b *buckets) take(key string) (bool, time.Duration) { return b.spend(key, 1) }

// peek reports whether key's bucket holds a token, spending none.
func (b *buckets) peek(key string) (bool, time.Duration) { return b.spend(key, 0) }

func (b *buckets) spend(key string, n float64) (bool, time.Duration) {
	if b == nil {
		return true, 0
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	k, ok := b.m[key]
	if !ok {
		k = &bucket{tokens: b.burst, last: now}
		b.m[key] = k
		if len(b.m) >= b.sweepAt {
			b.sweep(now)
		}
	}
	if dt := now.Sub(k.last).Seconds(); dt > 0 {
		k.tokens = math.Min(b.burst, k.tokens+dt*b.rate)
		k.last = now
	}
	if k.tokens >= 1 {
		k.tokens -= n
		return true, 0
	}
	return false, time.Duration((1 - k.tokens) / b.rate * float64(time.Second))
}

// sweep drops buckets that have refilled; if most are still in use, the
// next sweep waits until the set has doubled.
func (b *buckets) sweep(now time.Time) {
	full := time.Duration(b.burst / b.rate * float64(time.Second))
	for key, k := range b.m {
		if now.Sub(k.last) >= full {
			delete(b.m, key)
		}
	}
	b.sweepAt = max(1024, 2*len(b.m))
}

// limiter applies Limits to requests.
type limiter struct {
	identity, address, failures *buckets
}

func newLimiter(l Limits, now func() time.Time) *limiter {
	return &limiter{
		identity: newBuckets(l.PerIdentity, l.PerIdentityBurst, now),
		address:  newBuckets(l.PerAddress, l.PerAddressBurst, now),
		failures: newBuckets(float64(l.FailedLoginsPerMinute)/60, l.FailedLoginsPerMinute, now),
	}
}

// clientAddress is the address a request came from (the connection's
// peer: a load balancer in front of the hub should keep client addresses,
// e.g. with the PROXY protocol, for this to be per client).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// beforeAuth limits an address before its credentials are checked: its
// request rate, and whether it has failed to authenticate too often.
func (l *limiter) beforeAuth(r *http.Request) error {
	addr := clientAddress(r)
	if ok, wait := l.failures.peek(addr); !ok {
		return &rateLimitError{what: "too many failed logins from " + addr, retryAfter: wait}
	}
	if ok, wait := l.address.take(addr); !ok {
		return &rateLimitError{what: "address " + addr, retryAfter: wait}
	}
	return nil
}

// failedAuth counts a failed authentication against the request's address.
func (l *limiter) failedAuth(r *http.Request) { l.failures.take(clientAddress(r)) }

// afterAuth limits an authenticated caller.
func (l *limiter) afterAuth(who string) error {
	if ok, wait := l.identity.take(who); !ok {
		return &rateLimitError{what: who, retryAfter: wait}
	}
	return nil
}

// unknownKeyTTL is how long a key that was still unknown after a
// linearizable read is answered from memory.
const unknownKeyTTL = 5 * time.Second

// unknownKeys remembers, by hash, credentials found unknown even after
// the replica caught up with the leader. Bounded: when full, entries are
// dropped, oldest first in map order (any will do: it is only a cache).
type unknownKeys struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[[sha256.Size]byte]time.Time
}

const maxUnknownKeys = 4096

func newUnknownKeys(now func() time.Time) *unknownKeys {
	return &unknownKeys{now: now, m: map[[sha256.Size]byte]time.Time{}}
}

func (u *unknownKeys) has(cred string) bool {
	if cred == "" {
		return false
	}
	k := sha256.Sum256([]byte(cred))
	u.mu.Lock()
	defer u.mu.Unlock()
	at, ok := u.m[k]
	if ok && u.now().Sub(at) > unknownKeyTTL {
		delete(u.m, k)
		return false
	}
	return ok
}

func (u *unknownKeys) add(cred string) {
	if cred == "" {
		return
	}
	k := sha256.Sum256([]byte(cred))
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.m) >= maxUnknownKeys {
		now := u.now()
		for key, at := range u.m {
			if now.Sub(at) > unknownKeyTTL || len(u.m) >= maxUnknownKeys {
				delete(u.m, key)
			}
		}
	}
	u.m[k] = u.now()
}
