package portal

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// loginThrottle refuses sign-in attempts from an address that failed too
// often in the last minute (the API limits its own logins the same way).
type loginThrottle struct {
	mu    sync.Mutex
	fails map[string][]time.Time
}

// maxLoginFailures is how many failed sign-ins an address may make a minute.
const maxLoginFailures = 30

func addrOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// allowed reports whether addr may try to sign in at now.
func (l *loginThrottle) allowed(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(addr, now)) < maxLoginFailures
}

// failed counts a failed sign-in of addr at now.
func (l *loginThrottle) failed(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fails == nil || len(l.fails) > 100000 {
		l.fails = map[string][]time.Time{}
	}
	l.fails[addr] = append(l.recent(addr, now), now)
}

// recent drops addr's failures older than a minute and returns the rest.
func (l *loginThrottle) recent(addr string, now time.Time) []time.Time {
	list := l.fails[addr]
	i := 0
	for i < len(list) && now.Sub(list[i]) > time.Minute {
		i++
	}
	list = list[i:]
	if len(list) == 0 {
		delete(l.fails, addr)
	} else {
		l.fails[addr] = list
	}
	return list
}
