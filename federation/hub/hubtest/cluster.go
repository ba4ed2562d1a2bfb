package hubtest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
)

// N is the number of replicas, added ones included.
func (c *Cluster) N() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.members)
}

// Hub is replica i, or nil while it is stopped.
func (c *Cluster) Hub(i int) *hub.Hub {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].hub
}

// ID is replica i's raft id.
func (c *Cluster) ID(i int) raftnode.ServerID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].id
}

// URL is replica i's API base URL (stable across restarts).
func (c *Cluster) URL(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apis[c.members[i].id]
}

// URLs are all replicas' API base URLs.
func (c *Cluster) URLs() []string {
	out := make([]string, c.N())
	for i := range out {
		out[i] = c.URL(i)
	}
	return out
}

// InternalSecret is the secret the replicas share for their internal
// endpoints (hub.Config.InternalSecret).
func (c *Cluster) InternalSecret() string { return c.secret }

// RaftAddr is replica i's raft address.
func (c *Cluster) RaftAddr(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].raftAddr
}

// Live returns the indexes of running replicas.
func (c *Cluster) Live() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for i, m := range c.members {
		if m.hub != nil {
			out = append(out, i)
		}
	}
	return out
}

// Kill stops replica i abruptly: connections drop, raft stops without
// leaving. Its data stays for Restart.
func (c *Cluster) Kill(i int) { c.stop(i, func(h *hub.Hub) error { return h.Close() }) }

// Stop shuts replica i down gracefully.
func (c *Cluster) Stop(i int) {
	c.stop(i, func(h *hub.Hub) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return h.Shutdown(ctx)
	})
}

func (c *Cluster) stop(i int, how func(*hub.Hub) error) {
	c.mu.Lock()
	m := c.members[i]
	h, done := m.hub, m.done
	m.hub = nil
	c.mu.Unlock()
	if h == nil {
		return
	}
	if err := how(h); err != nil {
		c.logf("hub test cluster: stop %s: %v", m.id, err)
	}
	<-done
}

// Shutdown stops every replica abruptly (Kill); it runs at test cleanup
// too.
func (c *Cluster) Shutdown() { c.all(c.Kill) }

// StopAll stops every replica gracefully (Stop).
func (c *Cluster) StopAll() { c.all(c.Stop) }

// all runs stop on every running replica at once and closes listeners
// opened for replicas that never started.
func (c *Cluster) all(stop func(int)) {
	var wg sync.WaitGroup
	for _, i := range c.Live() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stop(i)
		}()
	}
	wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		for _, ln := range []*net.Listener{&m.raftLn, &m.httpLn} {
			if *ln != nil {
				_ = (*ln).Close()
				*ln = nil
			}
		}
	}
}

// Partition cuts replicas idx off from the others (raft and forwarding),
// replacing any earlier partition; clients still reach every replica.
func (c *Cluster) Partition(idx ...int) {
	c.helper()
	if c.net == nil {
		c.fatalf("hub test cluster: Partition needs the fault network (Options.AsBinary is set)")
	}
	ids := make([]string, len(idx))
	for k, i := range idx {
		ids[k] = string(c.ID(i))
	}
	c.net.Cut(ids...)
}

// Heal removes the partition.
func (c *Cluster) Heal() {
	c.helper()
	if c.net == nil {
		c.fatalf("hub test cluster: Heal needs the fault network (Options.AsBinary is set)")
	}
	c.net.Heal()
}

// WaitLeader waits until a running replica leads with a quorum's
// confirmation and returns its index.
func (c *Cluster) WaitLeader(ctx context.Context) (int, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, i := range c.Live() {
			h := c.Hub(i)
			if h == nil || !h.Node().IsLeader() {
				continue
			}
			vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := h.Node().VerifyLeader(vctx)
			cancel()
			if err == nil {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("hub test cluster: no leader: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// WaitReady waits for a leader and until every running replica holds the
// bootstrap administrator (stored by the leader after its election) and
// the replica directory entry of every member of the raft configuration
// (each replica lists itself), so that the state changes only by what a
// test does. It returns the leader.
func (c *Cluster) WaitReady(ctx context.Context) (int, error) {
	l, err := c.WaitLeader(ctx)
	if err != nil {
		return -1, err
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ready := true
		var members []raftnode.Server
		if h := c.Hub(l); h != nil {
			members, _ = h.Node().Servers()
		}
		for _, i := range c.Live() {
			h := c.Hub(i)
			if h == nil {
				ready = false
				continue
			}
			txn := h.Store().Read()
			if _, err := txn.User(Admin); err != nil {
				ready = false
			}
			for _, s := range members {
				if r, err := txn.Replica(string(s.ID)); err != nil || r.RaftAddress != string(s.Address) {
					ready = false
				}
			}
		}
		if ready && len(members) > 0 {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("hub test cluster: bootstrap administrator or replica directory not stored: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// WaitApplied waits until every running replica has applied index.
func (c *Cluster) WaitApplied(ctx context.Context, index uint64) error {
	for _, i := range c.Live() {
		if h := c.Hub(i); h != nil {
			if err := h.Node().WaitApplied(ctx, index); err != nil {
				return fmt.Errorf("hub test cluster: %s at %d, want %d: %w", c.ID(i), h.Node().AppliedIndex(), index, err)
			}
		}
	}
	return nil
}
