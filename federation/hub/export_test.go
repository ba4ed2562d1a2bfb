package hub

// LeanCounts returns how many requests h's lean path served and how many
// connections it handed to net/http; ok is false when the path is off.
func LeanCounts(h *Hub) (served, handedOff uint64, ok bool) {
	if h.lean == nil {
		return 0, 0, false
	}
	return h.lean.served.Load(), h.lean.handedOff.Load(), true
}

// LeanActive returns how many lean connections are serving a request.
func LeanActive(h *Hub) int {
	if h.lean == nil {
		return 0
	}
	h.lean.mu.Lock()
	defer h.lean.mu.Unlock()
	n := 0
	for _, active := range h.lean.conns {
		if active {
			n++
		}
	}
	return n
}
