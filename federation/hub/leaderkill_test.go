package hub_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
)

// TestHubLeaderKillNoLoss submits 2,000 jobs concurrently through the HTTP
// API, spread over three replicas, and kills the leader part way. Every
// acknowledged submission must be on every live replica afterwards (and on
// the killed one once restarted), each exactly once, with the number it
// was acknowledged with.
func TestHubLeaderKillNoLoss(t *testing.T) {
	const total, workers, killAfter = 2000, 64, 400
	c := hubtest.New(t, 3, hubtest.Options{})
	f := seed(t, c)
	leader, err := c.WaitLeader(ctxFor(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu     sync.Mutex
		acked  = map[string]uint64{} // id → number
		failed []string
		done   atomic.Int64
		next   atomic.Int64
		killed = make(chan struct{})
	)
	clients := make([]*client.Client, workers)
	for w := range workers {
		clients[w] = spreadClient(t, c, f.Key, w)
	}
	ctx := ctxFor(t, 120*time.Second)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := next.Add(1) - 1
				if k >= total {
					return
				}
				id := fmt.Sprintf("kill-%04d", k)
				j, err := clients[w].SubmitJob(ctx, f.job(id))
				mu.Lock()
				if err != nil {
					failed = append(failed, fmt.Sprintf("%s: %v", id, err))
				} else {
					acked[id] = j.Number
				}
				mu.Unlock()
				if done.Add(1) == killAfter {
					close(killed)
				}
			}
		}()
	}
	<-killed
	c.Kill(leader)
	t.Logf("killed leader %s after %d acknowledged submissions", c.ID(leader), killAfter)
	wg.Wait()
	if len(failed) > 0 {
		t.Errorf("%d submissions failed, e.g. %s", len(failed), failed[0])
	}
	if len(acked) != total {
		t.Errorf("%d of %d submissions acknowledged", len(acked), total)
	}

	check := func(phase string) {
		syncLive(t, c)
		for _, i := range c.Live() {
			jobs := jobsOf(t, c, i)
			if len(jobs) != len(acked) {
				t.Errorf("%s: %s holds %d jobs, %d acknowledged", phase, c.ID(i), len(jobs), len(acked))
			}
			for id, num := range acked {
				j, ok := jobs[id]
				switch {
				case !ok:
					t.Errorf("%s: %s lost acknowledged job %s", phase, c.ID(i), id)
				case j.Number != num:
					t.Errorf("%s: %s holds %s as number %d, acknowledged as %d", phase, c.ID(i), id, j.Number, num)
				}
			}
		}
	}
	check("after re-election")
	c.Restart(leader)
	check("after restarting the killed leader")
}
