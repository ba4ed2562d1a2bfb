package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// TestHubCrashNoLoss runs three flotilla-hub processes (fsync on) and
// 2,000 concurrent submissions — one goroutine each, released at a steady
// rate so the stream spans the kills — and SIGKILLs the leader at three
// random points of the stream, restarting it from its data directory each
// time. Every submission must be acknowledged (a majority stays up), and
// every acknowledged job must be present exactly once, with the number it
// was acknowledged with and a number no other job has, on every replica.
func TestHubCrashNoLoss(t *testing.T) {
	const submissions, kills = 2000, 3
	hubs := procenv.StartHubs(t, procenv.HubOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	f, err := hubs.Seed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	var points []int
	for len(points) < kills {
		if p := 1 + rng.IntN(submissions-1); !slices.Contains(points, p) {
			points = append(points, p)
		}
	}
	slices.Sort(points)
	t.Logf("seed %d: the leader is killed after %v acknowledgements", seed, points)

	st := startStream(ctx, hubs, f, submissions, 150)
	for k, p := range points {
		if err := st.waitAcked(ctx, p); err != nil {
			t.Fatalf("kill %d: %v", k, err)
		}
		leader, err := hubs.Leader(ctx)
		if err != nil {
			t.Fatalf("kill %d: %v", k, err)
		}
		t.Logf("kill %d: SIGKILL %s after %d acknowledgements", k, hubs.Replica(leader).ID, st.acked())
		hubs.Kill(leader)
		if err := hubs.Start(leader); err != nil {
			t.Fatalf("kill %d: restart %s: %v", k, hubs.Replica(leader).ID, err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
		err = hubs.WaitCaughtUp(wctx, leader)
		wcancel()
		if err != nil {
			t.Fatalf("kill %d: %s did not come back: %v", k, hubs.Replica(leader).ID, err)
		}
	}
	acked, failed := st.wait()
	t.Logf("%d submissions acknowledged, %d failed", len(acked), len(failed))
	if len(failed) > 0 {
		t.Errorf("%d submissions failed, e.g. %s", len(failed), failed[0])
	}
	if len(acked)+len(failed) != submissions {
		t.Errorf("%d outcomes for %d submissions", len(acked)+len(failed), submissions)
	}
	for i := range hubs.N() {
		if err := hubs.WaitCaughtUp(ctx, i); err != nil {
			t.Fatal(err)
		}
		checkJobs(t, ctx, hubs, i, f.Key, acked)
		checkNothingElse(t, ctx, hubs, i, f.Key, acked)
	}
}

// checkNothingElse fails if replica i holds a job no submission asked for.
func checkNothingElse(t *testing.T, ctx context.Context, hubs *procenv.Hubs, i int, key string, acked map[string]uint64) {
	t.Helper()
	jobs := replicaJobs(ctx, t, hubs, i, key)
	for _, j := range jobs {
		if _, ok := acked[j.ID]; !ok {
			t.Errorf("%s holds job %s (number %d) that no acknowledged submission made", hubs.Replica(i).ID, j.ID, j.Number)
		}
	}
}

// stream is n submissions, each in a goroutine of its own, released at
// most perSec a second; a submission retries (same ID) until the client's
// budget ends.
type stream struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	ack    map[string]uint64
	failed []string
	cond   chan struct{} // closed and replaced on every acknowledgement
}

func startStream(ctx context.Context, hubs *procenv.Hubs, f procenv.Fixture, n, perSec int) *stream {
	s := &stream{ack: map[string]uint64{}, cond: make(chan struct{})}
	clients := make([]*client.Client, 16)
	for i := range clients {
		clients[i] = hubs.Client(f.Key, client.WithoutLeaderPreference())
	}
	tokens := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(perSec))
		defer tick.Stop()
		for range n {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()
	for i := range n {
		s.wg.Go(func() {
			select {
			case <-ctx.Done():
				return
			case <-tokens:
			}
			id := fmt.Sprintf("nl-%04d", i)
			j, err := clients[i%len(clients)].SubmitJob(ctx, structs.JobSubmitRequest{ID: id, App: f.App, MachineType: f.MachineType, Nodes: 1})
			s.mu.Lock()
			defer s.mu.Unlock()
			if err != nil {
				s.failed = append(s.failed, fmt.Sprintf("%s: %v", id, err))
				return
			}
			s.ack[id] = j.Number
			close(s.cond)
			s.cond = make(chan struct{})
		})
	}
	return s
}

func (s *stream) acked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ack)
}

// waitAcked waits until at least n submissions were acknowledged.
func (s *stream) waitAcked(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, ch := len(s.ack), s.cond
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d acknowledged submissions (have %d): %w", n, got, ctx.Err())
		}
	}
}

// wait waits for every submission and returns the acknowledged ones (ID →
// number) and the failed ones.
func (s *stream) wait() (map[string]uint64, []string) {
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ack, s.failed
}
