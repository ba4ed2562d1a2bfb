package crash

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// TestRollingRestart restarts the three flotilla-hub processes of a hub
// one by one — SIGTERM, wait for the exit (it must be clean: leadership
// handed over, requests drained), start the new process on the same data
// directory, wait until it has caught up — under a steady stream of
// submissions and reads from the Go client over the replica list. No call
// may fail, and every acknowledged job must be stored exactly once.
func TestRollingRestart(t *testing.T) {
	const writers, readers = 8, 4
	hubs := procenv.StartHubs(t, procenv.HubOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	f, err := hubs.Seed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		acked  = map[string]uint64{}
		last   atomic.Value // an acknowledged job id
		fails  []string
		writes atomic.Int64
		reads  atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fails = append(fails, fmt.Sprintf(format, args...))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		cl := hubs.Client(f.Key)
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("rr-%d-%05d", w, n)
				j, err := cl.SubmitJob(ctx, structs.JobSubmitRequest{ID: id, App: f.App, MachineType: f.MachineType, Nodes: 1})
				if err != nil {
					fail("submit %s: %v", id, err)
					continue
				}
				mu.Lock()
				acked[id] = j.Number
				mu.Unlock()
				last.Store(id)
				writes.Add(1)
			}
		})
	}
	for range readers {
		cl := hubs.Client(f.Key)
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id, _ := last.Load().(string)
				if id == "" {
					if _, err := cl.ListJobs(ctx, client.JobQuery{Limit: 20}); err != nil {
						fail("list: %v", err)
					}
					reads.Add(1)
					continue
				}
				// Read your writes: an acknowledged job is there, on
				// whichever replica answers.
				if _, err := cl.GetJob(ctx, id, true); err != nil {
					fail("get %s: %v", id, err)
				}
				reads.Add(1)
			}
		})
	}
	waitCalls := func(n int64) {
		start := writes.Load()
		for writes.Load() < start+n {
			select {
			case <-ctx.Done():
				t.Fatalf("the stream stalled: %d writes", writes.Load())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	waitCalls(50)
	for i := range hubs.N() {
		id := hubs.Replica(i).ID
		began := time.Now()
		hubs.Stop(i) // SIGTERM; SIGKILL only after 10 s
		code, err := hubs.WaitExit(ctx, i)
		if err != nil || code != 0 {
			t.Fatalf("%s after SIGTERM: exit %d, %v\n%s", id, code, err, hubs.LastOutput(i))
		}
		stopped := time.Since(began)
		if err := hubs.Start(i); err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
		err = hubs.WaitCaughtUp(wctx, i)
		wcancel()
		if err != nil {
			t.Fatalf("%s did not come back: %v", id, err)
		}
		t.Logf("%s: stopped in %v, back and caught up in %v; %d writes, %d reads so far", id,
			stopped.Round(time.Millisecond), time.Since(began).Round(time.Millisecond), writes.Load(), reads.Load())
		waitCalls(50) // the stream goes on before the next replica
	}
	close(stop)
	wg.Wait()
	t.Logf("%d submissions and %d reads during the rolling restart", writes.Load(), reads.Load())
	for _, f := range fails {
		t.Error(f)
	}
	// Every acknowledged job once, with its number; nothing else.
	jobs, err := hubs.Client(f.Key).AllJobs(ctx, client.JobQuery{Limit: 1000, Consistent: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	numbers := map[uint64]string{}
	for _, j := range jobs {
		if seen[j.ID] {
			t.Errorf("job %s listed twice", j.ID)
		}
		seen[j.ID] = true
		if other, dup := numbers[j.Number]; dup {
			t.Errorf("jobs %s and %s share number %d", other, j.ID, j.Number)
		}
		numbers[j.Number] = j.ID
		if n, ok := acked[j.ID]; !ok {
			t.Errorf("job %s was never acknowledged", j.ID)
		} else if n != j.Number {
			t.Errorf("job %s: number %d, acknowledged as %d", j.ID, j.Number, n)
		}
	}
	for id := range acked {
		if !seen[id] {
			t.Errorf("acknowledged job %s is lost", id)
		}
	}
}
