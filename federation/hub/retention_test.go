package hub_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestRetentionPurgesExpiredJobs: the leader purges jobs that ended more
// than JobRetention ago, in batches of PurgeBatch, through raft on every
// replica, each leaving its accounting record; active and recent jobs stay.
func TestRetentionPurgesExpiredJobs(t *testing.T) {
	// The hub's clock runs ahead of the wall clock by skew, which the test
	// moves (write deadlines follow the hub's clock, so it keeps running).
	var mu sync.Mutex
	var skew time.Duration
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
	c := hubtest.New(t, 3, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) {
		cfg.Now, cfg.JobRetention, cfg.PurgeInterval, cfg.PurgeBatch = clock, time.Hour, 20*time.Millisecond, 2
	}})
	f := seed(t, c)
	ctx := ctxFor(t, 60*time.Second)
	alice := newClient(t, c, f.Key)
	var old []*structs.Job
	for i := range 5 {
		j, err := alice.SubmitJob(ctx, f.job("old-"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alice.CancelJob(ctx, j.ID, "done"); err != nil {
			t.Fatal(err)
		}
		old = append(old, j)
	}
	running, err := alice.SubmitJob(ctx, f.job("running"))
	if err != nil {
		t.Fatal(err)
	}
	l := syncLive(t, c)
	if _, err := c.Hub(l).Write(ctx, &fsm.JobAssignment{ID: running.ID, Cluster: "east", Time: clock()}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	skew = 90 * time.Minute // the old jobs expire
	mu.Unlock()
	recent, err := alice.SubmitJob(ctx, f.job("recent"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.CancelJob(ctx, recent.ID, "done"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(jobsOf(t, c, l)) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("expired jobs not purged: %d jobs left", len(jobsOf(t, c, l)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	syncLive(t, c)
	for i := range c.N() {
		jobs := jobsOf(t, c, i)
		if jobs["running"] == nil || jobs["recent"] == nil || len(jobs) != 2 {
			t.Errorf("%s keeps %d jobs, want the running and the recent one", c.ID(i), len(jobs))
		}
		recs, _, err := c.Hub(i).Store().Read().ListAccounting(state.RecordFilter{})
		if err != nil {
			t.Fatal(err)
		}
		// One per ended job: the purged ones and the recent one, accounted
		// when it ended.
		if len(recs) != len(old)+1 {
			t.Errorf("%s has %d accounting records, want one per ended job (%d)", c.ID(i), len(recs), len(old)+1)
		}
		for _, j := range old {
			r, err := c.Hub(i).Store().Read().Accounting("job-" + strconv.FormatUint(j.Number, 10))
			if err != nil || r.JobID != j.ID || r.State != structs.JobCanceled {
				t.Errorf("%s: record of %s = %+v, %v", c.ID(i), j.ID, r, err)
			}
		}
	}
	// A pass with nothing expired writes nothing.
	before := c.Hub(l).Store().Index(state.TableJobs)
	if n, err := c.Hub(l).PurgeExpired(ctx); err != nil || n != 0 || c.Hub(l).Store().Index(state.TableJobs) != before {
		t.Errorf("purge with nothing expired: %d, %v, jobs index %d → %d", n, err, before, c.Hub(l).Store().Index(state.TableJobs))
	}
}
