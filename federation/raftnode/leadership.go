package raftnode

import (
	"sync"

	"github.com/hashicorp/raft"
)

// LeadershipEvent is who leads the cluster as seen by one node. LeaderID is
// empty while no leader is known.
type LeadershipEvent struct {
	LeaderID   raft.ServerID
	LeaderAddr raft.ServerAddress
	// IsLocal is true when this node is the leader.
	IsLocal bool
}

// WatchLeadership returns a channel carrying the current LeadershipEvent at
// once and then every change. Delivery coalesces: a slow reader skips
// intermediate events but always gets the latest. The channel is closed by
// cancel or when the node shuts down.
func (n *Node) WatchLeadership() (<-chan LeadershipEvent, func()) {
	return n.leaders.subscribe()
}

// leaderWatch fans leadership changes out to subscribers. It listens to both
// raft's leader channel (guaranteed delivery of this node's own transitions)
// and a leader observer (other nodes' elections, which raft may drop if the
// observer lags; the state is re-read on every wake, so only the latest
// matters).
type leaderWatch struct {
	r        *raft.Raft
	self     raft.ServerID
	obsCh    chan raft.Observation
	observer *raft.Observer
	stopCh   chan struct{}
	done     chan struct{}

	mu      sync.Mutex
	current LeadershipEvent
	subs    map[int]chan LeadershipEvent
	nextID  int
	stopped bool
}

func startLeaderWatch(r *raft.Raft, self raft.ServerID) *leaderWatch {
	w := &leaderWatch{
		r:      r,
		self:   self,
		obsCh:  make(chan raft.Observation, 64),
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
		subs:   map[int]chan LeadershipEvent{},
	}
	w.observer = raft.NewObserver(w.obsCh, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(w.observer)
	w.current = w.read()
	go w.run()
	return w
}

func (w *leaderWatch) run() {
	defer close(w.done)
	leaderCh := w.r.LeaderCh()
	for {
		select {
		case <-leaderCh:
		case <-w.obsCh:
		case <-w.stopCh:
			return
		}
		w.publish(w.read())
	}
}

func (w *leaderWatch) read() LeadershipEvent {
	addr, id := w.r.LeaderWithID()
	return LeadershipEvent{
		LeaderID:   id,
		LeaderAddr: addr,
		IsLocal:    id == w.self && w.r.State() == raft.Leader,
	}
}

func (w *leaderWatch) publish(ev LeadershipEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || ev == w.current {
		return
	}
	w.current = ev
	for _, ch := range w.subs {
		offerLatest(ch, ev)
	}
}

// offerLatest puts ev in ch (capacity 1), replacing an unread older value.
// Only the publisher sends, under w.mu, so the second send cannot block.
func offerLatest(ch chan LeadershipEvent, ev LeadershipEvent) {
	select {
	case ch <- ev:
	default:
		select {
		case <-ch:
		default:
		}
		ch <- ev
	}
}

func (w *leaderWatch) subscribe() (<-chan LeadershipEvent, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan LeadershipEvent, 1)
	if w.stopped {
		close(ch)
		return ch, func() {}
	}
	ch <- w.current
	id := w.nextID
	w.nextID++
	w.subs[id] = ch
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if c, ok := w.subs[id]; ok {
			delete(w.subs, id)
			close(c)
		}
	}
}

func (w *leaderWatch) stop() {
	w.r.DeregisterObserver(w.observer)
	close(w.stopCh)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	for id, ch := range w.subs {
		delete(w.subs, id)
		close(ch)
	}
}

// TransferLeadership hands leadership to another voter, if this node
// leads, and waits until raft reports the outcome (a replica stopping on
// purpose calls it first, so that the cluster does not wait out an
// election timeout). It is a no-op on a follower and on the only voter
// (a one-replica hub: there is no one to hand over to).
func (n *Node) TransferLeadership() error {
	if n.raft.State() != raft.Leader {
		return nil
	}
	if servers, err := n.Servers(); err == nil && !otherVoter(servers, n.cfg.ID) {
		return nil
	}
	return n.mapRaftErr(n.raft.LeadershipTransfer().Error())
}

// otherVoter reports whether servers hold a voter other than self.
func otherVoter(servers []raft.Server, self raft.ServerID) bool {
	for _, s := range servers {
		if s.ID != self && s.Suffrage == raft.Voter {
			return true
		}
	}
	return false
}
