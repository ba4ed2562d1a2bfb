package state

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// TestClusterQueries covers the agent's two queries on jobsFixture (east
// holds 1 COMPLETED, 3 and 5 ASSIGNED; west 2 RUNNING, 4 and 6 ASSIGNED),
// and a job moved away from east staying visible to east's watch.
func TestClusterQueries(t *testing.T) {
	s := jobsFixture(t)
	active := func(cluster string, after uint64, limit int) ([]uint64, uint64) {
		t.Helper()
		jobs, next, err := s.Read().ActiveClusterJobs(cluster, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		return jobNumbers(jobs), next
	}
	changed := func(cluster string, since, after uint64, limit int) ([]uint64, uint64) {
		t.Helper()
		jobs, next, err := s.Read().ClusterJobsChanged(cluster, since, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		return jobNumbers(jobs), next
	}
	check := func(what string, got []uint64, next uint64, want []uint64, wantNext uint64) {
		t.Helper()
		if diff := cmp.Diff(want, got); diff != "" || next != wantNext {
			t.Errorf("%s: got %v next %d, want %v next %d (%s)", what, got, next, want, wantNext, diff)
		}
	}
	g, n := active("east", 0, 0)
	check("active east", g, n, []uint64{3, 5}, 0)
	g, n = active("west", 0, 0)
	check("active west", g, n, []uint64{2, 4, 6}, 0)
	g, n = active("west", 0, 2)
	check("active west page 1", g, n, []uint64{2, 4}, 4)
	g, n = active("west", 4, 2)
	check("active west page 2", g, n, []uint64{6}, 0)
	g, n = active("nowhere", 0, 0)
	check("active unknown cluster", g, n, []uint64{}, 0)
	g, n = changed("east", 29, 0, 0)
	check("east changed since 29", g, n, []uint64{1, 3, 5}, 0)
	g, n = changed("east", 29, 1, 1)
	check("east changed since 29, paged", g, n, []uint64{3}, 3)
	g, n = changed("east", 30, 0, 0)
	check("east changed since 30", g, n, []uint64{}, 0)

	// Job 3 goes back to the queue, then to west: east's watch sees both.
	write(t, s, 31, func(w *WriteTxn) error {
		_, err := w.UpdateJobState(&structs.JobStateUpdate{ID: jobID(3), State: structs.JobQueued, Time: t0})
		return err
	})
	j, _ := s.Read().Job(jobID(3))
	if j.Cluster != "" || j.PreviousCluster != "east" {
		t.Fatalf("requeued job: cluster %q previous %q", j.Cluster, j.PreviousCluster)
	}
	g, n = changed("east", 30, 0, 0)
	check("east sees the requeue", g, n, []uint64{3}, 0)
	g, n = active("east", 0, 0)
	check("active east after requeue", g, n, []uint64{5}, 0)
	write(t, s, 32, func(w *WriteTxn) error {
		_, err := w.AssignJob(&structs.JobAssignment{ID: jobID(3), Cluster: "west", Time: t0})
		return err
	})
	g, n = changed("east", 31, 0, 0)
	check("east sees the move to west", g, n, []uint64{3}, 0)
	g, n = changed("west", 31, 0, 0)
	check("west sees its new job", g, n, []uint64{3}, 0)
	g, n = active("west", 0, 0)
	check("active west after the move", g, n, []uint64{2, 3, 4, 6}, 0)
}

// TestPurgeEnded purges the oldest finished jobs in bounded batches, each
// leaving an accounting record, and never an active job.
func TestPurgeEnded(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	write(t, s, 4, func(w *WriteTxn) error {
		return w.UpsertMachineType(&structs.MachineType{Name: "n3", Cores: 16, Slots: 16, RAM: 64, Cluster: "east", Price: 2}, structs.CAS{})
	})
	for i := 1; i <= 5; i++ {
		submit(t, s, uint64(10+i), jobID(i), "acme", "alice", "n3")
	}
	// Jobs 1..4 end at t0+i hours after starting at t0; job 5 keeps running.
	write(t, s, 20, func(w *WriteTxn) error {
		for i := 1; i <= 5; i++ {
			if _, err := w.AssignJob(&structs.JobAssignment{ID: jobID(i), Cluster: "east", Time: t0}); err != nil {
				return err
			}
			if _, err := w.UpdateJobState(&structs.JobStateUpdate{ID: jobID(i), State: structs.JobRunning, Time: t0}); err != nil {
				return err
			}
		}
		for _, i := range []int{3, 1, 4, 2} {
			if _, err := w.UpdateJobState(&structs.JobStateUpdate{ID: jobID(i), State: structs.JobCompleted,
				Time: t0.Add(time.Duration(i) * time.Hour)}); err != nil {
				return err
			}
		}
		return nil
	})
	purge := func(index uint64, cutoff time.Time, limit int) int {
		t.Helper()
		var n int
		write(t, s, index, func(w *WriteTxn) (err error) { n, err = w.PurgeEnded(cutoff, limit, false); return err })
		return n
	}
	if n := purge(21, t0.Add(3*time.Hour+time.Minute), 2); n != 2 {
		t.Fatalf("first batch purged %d, want 2 (the limit)", n)
	}
	left := func() []uint64 {
		jobs, _, _ := s.Read().ListJobs(JobFilter{})
		return jobNumbers(jobs)
	}
	if diff := cmp.Diff([]uint64{3, 4, 5}, left()); diff != "" {
		t.Errorf("after the first batch, oldest ends first (-want +got):\n%s", diff)
	}
	if n := purge(22, t0.Add(3*time.Hour+time.Minute), 2); n != 1 {
		t.Fatalf("second batch purged %d, want 1 (job 3; job 4 ended after the cutoff)", n)
	}
	if diff := cmp.Diff([]uint64{4, 5}, left()); diff != "" {
		t.Errorf("after the second batch (-want +got):\n%s", diff)
	}
	if n := purge(23, t0.Add(100*time.Hour), 10); n != 1 {
		t.Fatalf("late purge deleted %d, want 1: the running job stays", n)
	}
	recs, _, err := s.Read().ListAccounting(RecordFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("%d accounting records, want one per purged job (4)", len(recs))
	}
	want := &structs.AccountingRecord{RaftIndex: structs.RaftIndex{CreateIndex: 21, ModifyIndex: 21}, ID: "job-2", Seq: 2,
		JobID: jobID(2), JobNumber: 2, JobName: structs.JobName("alice", t0.Add(12*time.Second), 2), Tenant: "acme",
		User: "alice", App: "solver", MachineType: "n3", Cluster: "east", Nodes: 1, Cores: 16, State: structs.JobCompleted,
		Start: t0, End: t0.Add(2 * time.Hour), Price: 2, Cost: 4}
	if diff := cmp.Diff(want, recs[1]); diff != "" {
		t.Errorf("record of job 2 (-want +got):\n%s", diff)
	}
	// The ID is free again; the new job gets a new number.
	j := submit(t, s, 24, jobID(1), "acme", "bob", "n3")
	if j.Number != 6 {
		t.Errorf("resubmitted id got number %d, want 6", j.Number)
	}
	for name, tc := range map[string]struct {
		cutoff time.Time
		limit  int
	}{
		"no cutoff":  {time.Time{}, 10},
		"zero limit": {t0, 0},
		"huge limit": {t0, MaxPurgeBatch + 1},
		"neg. limit": {t0, -1},
	} {
		w := s.Write(25)
		if _, err := w.PurgeEnded(tc.cutoff, tc.limit, false); !errors.Is(err, structs.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
		w.Abort()
	}
}

// TestWaitForAny wakes on a write to any table it names, not on others.
func TestWaitForAny(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	at := s.LatestIndex()
	// A write to another table before the wait starts: it must not count.
	write(t, s, at+1, func(w *WriteTxn) error {
		return w.UpsertTenant(&structs.Tenant{Name: "gamma"}, structs.CAS{})
	})
	done := make(chan uint64, 1)
	go func() {
		idx, err := s.WaitForAny(context.Background(), at, TableJobs, TableApps)
		if err != nil {
			t.Error(err)
		}
		done <- idx
	}()
	write(t, s, at+2, func(w *WriteTxn) error {
		return w.UpsertApp(&structs.App{Name: "viz", Visibility: structs.VisibilityPublic}, structs.CAS{})
	})
	select {
	case idx := <-done:
		if idx != at+2 {
			t.Errorf("woke at %d, want %d", idx, at+2)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not wake on the app write")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WaitForAny(ctx, at+5, TableJobs); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled wait: %v", err)
	}
	if _, err := s.WaitForAny(ctx, 0, "nope"); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("unknown table: %v", err)
	}
}
