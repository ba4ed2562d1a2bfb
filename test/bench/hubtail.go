package main

import (
	"fmt"
	"slices"
	"time"
)

// The hub rows' latency tail: a p99 alone does not say whether slow
// calls are a stall every client waits out together (the replicas, the
// process or the machine: GC, an fsync, the scheduler) or calls slow on
// their own (a client's transport: a stale connection, a lost wake-up).
// tailOf tells them apart by when the slow calls ran.

// callTime is one submission: when it started (from the run's start)
// and how long it took.
type callTime struct{ at, took time.Duration }

// slowCall is the latency from which a call counts in the tail.
const slowCall = 100 * time.Millisecond

// latencyTail summarises the calls over slowCall.
type latencyTail struct {
	max  time.Duration
	slow int // calls over slowCall
	// stalls are the stretches in which slow calls overlapped (each a
	// union of slow calls' spans); crowd is the most slow calls one
	// stretch held, and crowdClients how many distinct clients made them.
	stalls, crowd, crowdClients int
	// alone: slow calls that overlapped no other slow call.
	alone int
}

func (t latencyTail) String() string {
	return fmt.Sprintf("max %.1f ms, %d calls over %v in %d stretches (the largest: %d calls of %d clients), %d slow alone",
		float64(t.max.Microseconds())/1000, t.slow, slowCall, t.stalls, t.crowd, t.crowdClients, t.alone)
}

// tailOf is the tail of the calls each client made (calls[w] client w's).
func tailOf(calls [][]callTime) latencyTail {
	type slow struct {
		callTime
		client int
	}
	var t latencyTail
	var list []slow
	for w, cs := range calls {
		for _, c := range cs {
			t.max = max(t.max, c.took)
			if c.took > slowCall {
				list = append(list, slow{c, w})
			}
		}
	}
	t.slow = len(list)
	slices.SortFunc(list, func(a, b slow) int { return int(a.at - b.at) })
	for i := 0; i < len(list); {
		end, clients := list[i].at+list[i].took, map[int]bool{list[i].client: true}
		j := i + 1
		for ; j < len(list) && list[j].at < end; j++ {
			end = max(end, list[j].at+list[j].took)
			clients[list[j].client] = true
		}
		t.stalls++
		if n := j - i; n == 1 {
			t.alone++
		} else if n > t.crowd {
			t.crowd, t.crowdClients = n, len(clients)
		}
		i = j
	}
	return t
}
