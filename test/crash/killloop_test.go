// Package crash holds the crash tests: the shipped binaries run as OS
// processes and are killed with SIGKILL at random moments (see
// test/procenv); nothing acknowledged may be lost and nothing may run twice.
package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// killsPerStore is how many SIGKILL rounds TestReplicaSurvivesSIGKILLLoop
// runs per log store: 30 in `make test`, FLOTILLA_KILLS (200 under `make
// soak`) when set.
func killsPerStore(t *testing.T) int {
	if v := os.Getenv("FLOTILLA_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("FLOTILLA_KILLS=%q: want a positive number", v)
		}
		return n
	}
	return 30
}

// TestReplicaSurvivesSIGKILLLoop runs three flotilla-hub processes (fsync
// on) under a steady stream of submissions and SIGKILLs them at random
// moments — the leader or a follower, sometimes two at once — restarting
// each from its data directory. Snapshots are taken every few hundred
// entries, so kills land in snapshot writes and log compaction too, and
// killed leaders leave uncommitted entries that the next leader makes
// them truncate (raft-wal v0.4.0 broke there). Every restart must come up
// and catch up, and at the end every acknowledged job is on every replica
// exactly once, with the number it was acknowledged with.
func TestReplicaSurvivesSIGKILLLoop(t *testing.T) {
	for _, store := range []string{"wal", "bolt"} {
		t.Run(store, func(t *testing.T) { killLoop(t, store, killsPerStore(t)) })
	}
}

func killLoop(t *testing.T, store string, kills int) {
	hubs := procenv.StartHubs(t, procenv.HubOptions{LogStore: store, Args: []string{
		"-snapshot-threshold", "200", "-snapshot-interval", "1s", "-trailing-logs", "400",
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	f, err := hubs.Seed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	load := startLoad(ctx, hubs, f, 32, 150)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	restarts := 0
	for k := range kills {
		// A random moment: after a random number of further acknowledgements.
		if err := load.waitAcked(ctx, load.acked()+1+rng.IntN(40)); err != nil {
			t.Fatalf("round %d: %v", k, err)
		}
		leader, err := hubs.Leader(ctx)
		if err != nil {
			t.Fatalf("round %d: %v", k, err)
		}
		victims := []int{leader}
		switch r := rng.IntN(10); {
		case r < 4: // a follower instead
			victims = []int{(leader + 1 + rng.IntN(hubs.N()-1)) % hubs.N()}
		case r < 6: // two at once: the quorum is gone until they are back
			victims = append(victims, (leader+1+rng.IntN(hubs.N()-1))%hubs.N())
		}
		for _, v := range victims {
			hubs.Kill(v)
		}
		for _, v := range victims {
			if err := hubs.Start(v); err != nil {
				t.Fatalf("round %d: restart %s: %v", k, hubs.Replica(v).ID, err)
			}
			restarts++
		}
		wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
		for _, v := range victims {
			if err := hubs.WaitCaughtUp(wctx, v); err != nil {
				wcancel()
				t.Fatalf("round %d (%s): replica %s did not come back: %v", k, store, hubs.Replica(v).ID, err)
			}
		}
		wcancel()
	}
	acked, failed := load.stop()
	t.Logf("%s: %d kills, %d restarts, %d submissions acknowledged, %d failed", store, kills, restarts, len(acked), len(failed))
	if len(failed) > 0 {
		t.Errorf("%d submissions failed, e.g. %s", len(failed), failed[0])
	}
	for i := range hubs.N() {
		if err := hubs.WaitCaughtUp(ctx, i); err != nil {
			t.Fatal(err)
		}
		checkJobs(t, ctx, hubs, i, f.Key, acked)
	}
}

// checkJobs reads every job through replica i and checks that each
// acknowledged one is there exactly once with its number, and that no two
// jobs share a number.
func checkJobs(t *testing.T, ctx context.Context, hubs *procenv.Hubs, i int, key string, acked map[string]uint64) {
	t.Helper()
	jobs := replicaJobs(ctx, t, hubs, i, key)
	byID := map[string]uint64{}
	byNumber := map[uint64]string{}
	for _, j := range jobs {
		if _, dup := byID[j.ID]; dup {
			t.Errorf("%s: job %s listed twice", hubs.Replica(i).ID, j.ID)
		}
		if other, dup := byNumber[j.Number]; dup {
			t.Errorf("%s: number %d held by %s and %s", hubs.Replica(i).ID, j.Number, other, j.ID)
		}
		byID[j.ID], byNumber[j.Number] = j.Number, j.ID
	}
	lost := 0
	for id, num := range acked {
		got, ok := byID[id]
		switch {
		case !ok:
			lost++
			if lost <= 5 {
				t.Errorf("%s: acknowledged job %s is missing", hubs.Replica(i).ID, id)
			}
		case got != num:
			t.Errorf("%s: job %s has number %d, acknowledged as %d", hubs.Replica(i).ID, id, got, num)
		}
	}
	if lost > 0 {
		t.Errorf("%s: %d of %d acknowledged jobs missing", hubs.Replica(i).ID, lost, len(acked))
	}
}

// load submits jobs from several clients at a steady rate.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	n      atomic.Int64
	mu     sync.Mutex
	ack    map[string]uint64
	failed []string
	cond   chan struct{} // closed and replaced on every acknowledgement
}

// startLoad starts clients goroutines submitting as f's user, together at
// most perSec submissions a second, each with an ID of its own (a retry
// after a lost reply resubmits the same ID and gets the same job back).
func startLoad(ctx context.Context, hubs *procenv.Hubs, f procenv.Fixture, clients, perSec int) *load {
	lctx, cancel := context.WithCancel(ctx)
	l := &load{cancel: cancel, ack: map[string]uint64{}, cond: make(chan struct{})}
	tick := time.NewTicker(time.Second / time.Duration(perSec))
	tokens := make(chan struct{})
	go func() {
		defer tick.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-tick.C:
				select {
				case tokens <- struct{}{}:
				default:
				}
			}
		}
	}()
	for c := range clients {
		cl := hubs.Client(f.Key, client.WithoutLeaderPreference())
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for seq := 0; ; seq++ {
				select {
				case <-lctx.Done():
					return
				case <-tokens:
				}
				id := fmt.Sprintf("c%02d-%06d", c, seq)
				j, err := cl.SubmitJob(lctx, structs.JobSubmitRequest{ID: id, App: f.App, MachineType: f.MachineType, Nodes: 1})
				if lctx.Err() != nil {
					return // stopping: the outcome of this one is unknown
				}
				l.mu.Lock()
				if err != nil {
					l.failed = append(l.failed, fmt.Sprintf("%s: %v", id, err))
				} else {
					l.ack[id] = j.Number
					l.n.Add(1)
					close(l.cond)
					l.cond = make(chan struct{})
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *load) acked() int { return int(l.n.Load()) }

// waitAcked waits until at least n submissions were acknowledged.
func (l *load) waitAcked(ctx context.Context, n int) error {
	for {
		l.mu.Lock()
		got, ch := len(l.ack), l.cond
		l.mu.Unlock()
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

// stop ends the load and returns the acknowledged jobs (ID → number) and
// the failed submissions.
func (l *load) stop() (map[string]uint64, []string) {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ack, l.failed
}

// replicaJobs lists every job through replica i alone, with a consistent
// read.
func replicaJobs(ctx context.Context, t *testing.T, hubs *procenv.Hubs, i int, key string) []*structs.Job {
	t.Helper()
	cl, err := client.New([]string{hubs.Replica(i).URL}, key, client.WithRetryTimeout(30*time.Second),
		client.WithTLS(hubs.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.CloseIdleConnections()
	jobs, err := cl.AllJobs(ctx, client.JobQuery{Limit: 10000, Consistent: true})
	if err != nil {
		t.Fatalf("%s: list jobs: %v", hubs.Replica(i).ID, err)
	}
	return jobs
}
