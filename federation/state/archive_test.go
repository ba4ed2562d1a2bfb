package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// archiveFixture runs 48 jobs of three owners through random lives over
// many transactions: some stay queued, assigned or running, some are
// re-queued (PreviousCluster), the rest end in each terminal state, with
// and without accounting. It returns the next free raft index.
func archiveFixture(t *testing.T) (*Store, uint64) {
	s := newStore(t)
	seed(t, s)
	owners := [...][3]string{{"acme", "alice", "n3"}, {"acme", "bob", "n3"}, {"beta", "carol", "g3"}}
	index := uint64(10)
	write(t, s, index, func(w *WriteTxn) error {
		for i := 1; i <= 48; i++ {
			o := owners[i%3]
			if _, err := w.SubmitJob(&structs.Job{ID: jobID(i), Tenant: o[0], Owner: o[1], App: "solver", MachineType: o[2],
				Nodes: 1, SubmitTime: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
				return err
			}
		}
		return nil
	})
	rnd := rand.New(rand.NewPCG(1, 19))
	for step := range 6 {
		index++
		at := t0.Add(time.Duration(step) * time.Hour)
		write(t, s, index, func(w *WriteTxn) error {
			for i := 1; i <= 48; i++ {
				if rnd.IntN(2) == 0 {
					continue
				}
				j, err := w.Job(jobID(i))
				if err != nil {
					return err
				}
				id, acct := jobID(i), rnd.IntN(2) == 0
				// A refused move leaves the transaction as it was.
				switch j.State {
				case structs.JobSubmitted, structs.JobQueued:
					if rnd.IntN(6) == 0 {
						_, _ = w.CancelJob(&structs.JobCancel{ID: id, Time: at, Account: acct})
					} else {
						_, _ = w.AssignJob(&structs.JobAssignment{ID: id, Cluster: []string{"east", "west"}[rnd.IntN(2)], Time: at})
					}
				case structs.JobAssigned:
					st := []structs.JobState{structs.JobRunning, structs.JobQueued, structs.JobStarting}[rnd.IntN(3)]
					_, _ = w.UpdateJobState(&structs.JobStateUpdate{ID: id, State: st, Time: at, Account: acct})
				case structs.JobStarting, structs.JobRunning:
					st := []structs.JobState{structs.JobCompleted, structs.JobCompletedWithError, structs.JobRunning}[rnd.IntN(3)]
					if rnd.IntN(5) == 0 {
						_, _ = w.CancelJob(&structs.JobCancel{ID: id, Time: at, Account: acct})
					} else {
						_, _ = w.UpdateJobState(&structs.JobStateUpdate{ID: id, State: st, Time: at, Account: acct, ExitCode: i % 2})
					}
				}
			}
			return nil
		})
	}
	return s, index + 1
}

// allJobs is every stored job, in play (live.go) and finished (the
// archive), in number order; it checks each is kept in the right place.
func allJobs(t *testing.T, r *ReadTxn) []*structs.Job {
	t.Helper()
	var all []*structs.Job
	if it, _ := r.txn.Get(TableJobs, "id"); it.Next() != nil {
		t.Error("a job in the memdb jobs table, which stays empty")
	}
	r.ar.live.ids.Ascend(func(j *structs.Job) bool {
		if j.State.IsTerminal() {
			t.Errorf("finished job %s (%s) among the jobs in play", j.ID, j.State)
		} else {
			all = append(all, j)
		}
		return true
	})
	r.ar.numbers.Ascend(func(j *structs.Job) bool {
		if !j.State.IsTerminal() {
			t.Errorf("job %s in play (%s) in the archive", j.ID, j.State)
		}
		all = append(all, j)
		return true
	})
	slices.SortFunc(all, func(a, b *structs.Job) int { return int(a.Number) - int(b.Number) })
	return all
}

// pageScan is a listing's answer by scanning: the first limit of the
// matches numbered above after, and the next page's After.
func pageScan[T any](all []T, after uint64, limit int, num func(T) uint64, keep func(T) bool) ([]uint64, uint64) {
	var got []uint64
	for _, o := range all {
		if num(o) <= after || !keep(o) {
			continue
		}
		if limit > 0 && len(got) == limit {
			return got, got[limit-1]
		}
		got = append(got, num(o))
	}
	return got, 0
}

// TestArchiveAnswersMatchScan: with finished jobs and accounting records
// in the archive, every job and record query answers what a scan of all
// stored rows answers (the queries' contract before the archive), and so
// does the state restored from its snapshot, which saves to the same bytes.
func TestArchiveAnswersMatchScan(t *testing.T) {
	s, _ := archiveFixture(t)
	r := s.Read()
	all := allJobs(t, r)
	finished := 0
	for _, j := range all {
		if j.State.IsTerminal() {
			finished++
		}
	}
	if finished < 10 || finished > len(all)-5 {
		t.Fatalf("fixture: %d of %d jobs finished, want a mix", finished, len(all))
	}
	check := func(t *testing.T, s *Store) {
		r := s.Read()
		if diff := cmp.Diff(all, allJobs(t, r)); diff != "" {
			t.Fatalf("stored jobs differ (-want +got):\n%s", diff)
		}
		checkJobQueries(t, r, all)
		checkRecordQueries(t, r)
	}
	checkFilledAndRestored(t, s, check)
}

func checkJobQueries(t *testing.T, r *ReadTxn, all []*structs.Job) {
	t.Helper()
	num := func(j *structs.Job) uint64 { return j.Number }
	states := append([]structs.JobState{""}, structs.JobSubmitted, structs.JobQueued, structs.JobAssigned, structs.JobRunning,
		structs.JobStarting, structs.JobCompleted, structs.JobCompletedWithError, structs.JobCanceled, structs.JobTerminated)
	n := 0
	for _, tenant := range []string{"", "acme", "beta"} {
		for _, owner := range []string{"", "alice", "carol"} {
			for _, cluster := range []string{"", "east", "west"} {
				for _, st := range states {
					for _, active := range []bool{false, true} {
						for _, after := range []uint64{0, 7, 30} {
							for _, limit := range []int{0, 1, 4} {
								f := JobFilter{Tenant: tenant, Owner: owner, Cluster: cluster, State: st, Active: active, After: after, Limit: limit}
								jobs, next, err := r.ListJobs(f)
								if err != nil {
									t.Fatal(err)
								}
								want, wantNext := pageScan(all, after, limit, num, f.match)
								if got := jobNumbers(jobs); !slices.Equal(got, want) || next != wantNext {
									t.Fatalf("ListJobs(%+v) = %v next %d, scan: %v next %d", f, got, next, want, wantNext)
								}
								n++
							}
						}
					}
				}
			}
		}
	}
	for _, j := range all {
		for name, get := range map[string]func() (*structs.Job, error){
			"Job": func() (*structs.Job, error) { return r.Job(j.ID) }, "JobRef": func() (*structs.Job, error) { return r.JobRef(j.ID) },
			"JobByNumber": func() (*structs.Job, error) { return r.JobByNumber(j.Number) },
		} {
			if got, err := get(); err != nil || !cmp.Equal(got, j) {
				t.Errorf("%s of %s: %v, %v", name, j.ID, got, err)
			}
		}
	}
	if _, err := r.Job("job-999"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("Job of an unknown ID: %v", err)
	}
	if _, err := r.JobByNumber(999); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("JobByNumber of an unknown number: %v", err)
	}
	// The agent's watch and listing.
	for _, cluster := range []string{"east", "west"} {
		for _, since := range []uint64{0, 12, 17, 22} {
			for _, after := range []uint64{0, 10} {
				for _, limit := range []int{0, 3} {
					jobs, next, err := r.ClusterJobsChanged(cluster, since, after, limit)
					if err != nil {
						t.Fatal(err)
					}
					want, wantNext := pageScan(all, after, limit, num, func(j *structs.Job) bool {
						return (j.Cluster == cluster || j.PreviousCluster == cluster) && j.ModifyIndex > since
					})
					if got := jobNumbers(jobs); !slices.Equal(got, want) || next != wantNext {
						t.Errorf("ClusterJobsChanged(%s, %d, %d, %d) = %v next %d, scan: %v next %d",
							cluster, since, after, limit, got, next, want, wantNext)
					}
				}
			}
		}
		jobs, _, err := r.ActiveClusterJobs(cluster, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := pageScan(all, 0, 0, num, func(j *structs.Job) bool { return j.Cluster == cluster && j.State.OnCluster() })
		if got := jobNumbers(jobs); !slices.Equal(got, want) {
			t.Errorf("ActiveClusterJobs(%s) = %v, scan: %v", cluster, got, want)
		}
	}
	// A service account's rate: submit times newest first.
	for _, owner := range []string{"alice", "carol", "nobody"} {
		for _, since := range []time.Time{t0, t0.Add(20 * time.Minute), t0.Add(47 * time.Minute)} {
			got, err := r.SubmitTimesSince(owner, since)
			if err != nil {
				t.Fatal(err)
			}
			var want []time.Time
			for _, j := range slices.Backward(all) {
				if j.Owner == owner && !j.SubmitTime.Before(since) {
					want = append(want, j.SubmitTime)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("SubmitTimesSince(%s, %v) = %v, scan: %v", owner, since, got, want)
			}
		}
	}
	// Retention.
	var ended []*structs.Job
	for _, j := range all {
		if j.State.IsTerminal() {
			ended = append(ended, j)
		}
	}
	for _, cut := range []time.Time{t0, t0.Add(3 * time.Hour), t0.Add(30 * time.Hour)} {
		want := false
		for _, j := range ended {
			want = want || j.EndTime.Before(cut)
		}
		if got := r.EndedBefore(cut); got != want {
			t.Errorf("EndedBefore(%v) = %v, scan: %v", cut, got, want)
		}
	}
	if n == 0 {
		t.Fatal("no listing checked")
	}
}

func checkRecordQueries(t *testing.T, r *ReadTxn) {
	t.Helper()
	var recs []*structs.AccountingRecord
	r.ar.recs.Ascend(func(a *structs.AccountingRecord) bool { recs = append(recs, a); return true })
	if len(recs) < 5 {
		t.Fatalf("fixture: %d accounting records", len(recs))
	}
	seq := func(a *structs.AccountingRecord) uint64 { return a.Seq }
	for _, tenant := range []string{"", "acme", "beta"} {
		for _, after := range []uint64{0, 3} {
			for _, limit := range []int{0, 1, 3} {
				f := RecordFilter{Tenant: tenant, After: after, Limit: limit}
				got, next, err := r.ListAccounting(f)
				if err != nil {
					t.Fatal(err)
				}
				want, wantNext := pageScan(recs, after, limit, seq, func(a *structs.AccountingRecord) bool { return tenant == "" || a.Tenant == tenant })
				if g := names(got, func(a *structs.AccountingRecord) string { return fmt.Sprint(a.Seq) }); !slices.Equal(g, names(want, func(n uint64) string { return fmt.Sprint(n) })) || next != wantNext {
					t.Errorf("ListAccounting(%+v) = %v next %d, scan: %v next %d", f, g, next, want, wantNext)
				}
			}
		}
		got, err := r.QueryAccounting(AccountingQuery{Tenant: tenant, User: "alice", Start: t0.Add(2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		var want []*structs.AccountingRecord
		for _, a := range recs {
			if (tenant == "" || a.Tenant == tenant) && a.User == "alice" && !a.End.Before(t0.Add(2*time.Hour)) {
				want = append(want, a)
			}
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("QueryAccounting(%s) (-scan +got):\n%s", tenant, diff)
		}
	}
	for _, a := range recs {
		if got, err := r.Accounting(a.ID); err != nil || !cmp.Equal(got, a) {
			t.Errorf("Accounting(%s) = %v, %v", a.ID, got, err)
		}
		if got, err := r.AccountingByJob(a.JobID); err != nil || len(got) != 1 || !cmp.Equal(got[0], a) {
			t.Errorf("AccountingByJob(%s) = %v, %v", a.JobID, got, err)
		}
	}
	if _, err := r.Accounting("job-999"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("Accounting of an unknown ID: %v", err)
	}
}

// TestArchiveTransactions: a reader keeps the view it opened while a job
// moves to the archive; an aborted transaction's moves, purges and
// records leave the archive as it was; a committed purge deletes from it.
func TestArchiveTransactions(t *testing.T) {
	s, index := archiveFixture(t)
	before := s.Read()
	all := allJobs(t, before)
	var running *structs.Job
	for _, j := range all {
		if j.State == structs.JobRunning {
			running = j
			break
		}
	}
	if running == nil {
		t.Fatal("fixture: no running job")
	}
	snap := persist(t, s)
	end := t0.Add(40 * time.Hour)

	w := s.Write(index)
	if _, err := w.UpdateJobState(&structs.JobStateUpdate{ID: running.ID, State: structs.JobCompleted, Time: end, Account: true}); err != nil {
		t.Fatal(err)
	}
	if n, err := w.PurgeEnded(end.Add(time.Hour), MaxPurgeBatch, true); err != nil || n == 0 {
		t.Fatalf("purge in the transaction: %d, %v", n, err)
	}
	if _, err := w.AppendAccounting(&structs.AccountingRecord{ID: "extra", JobID: "x", Tenant: "acme", User: "alice", End: end}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := w.ListJobs(JobFilter{}); len(got) >= len(all) {
		t.Errorf("the transaction does not see its purge: %d jobs", len(got))
	}
	w.Abort()
	if got := persist(t, s); !bytes.Equal(got, snap) {
		t.Fatal("an aborted transaction changed the state")
	}

	write(t, s, index, func(w *WriteTxn) error {
		_, err := w.UpdateJobState(&structs.JobStateUpdate{ID: running.ID, State: structs.JobCompleted, Time: end, Account: true})
		return err
	})
	if diff := cmp.Diff(all, allJobs(t, before)); diff != "" {
		t.Errorf("an open reader's view changed (-want +got):\n%s", diff)
	}
	if j, err := before.Job(running.ID); err != nil || j.State != structs.JobRunning {
		t.Errorf("an open reader sees %v, %v; want the job running", j, err)
	}
	after := s.Read()
	if j := after.ar.job(running.ID); j == nil || j.State != structs.JobCompleted {
		t.Fatalf("the ended job is not archived: %v", j)
	}
	if _, err := after.Accounting(fmt.Sprintf("job-%d", running.Number)); err != nil {
		t.Errorf("the ended job's record: %v", err)
	}
	jobs, _, err := after.ClusterJobsChanged(running.Cluster, index-1, 0, 0)
	if err != nil || !slices.Contains(jobNumbers(jobs), running.Number) {
		t.Errorf("the agent's watch after %d misses the ended job: %v, %v", index-1, jobNumbers(jobs), err)
	}

	write(t, s, index+1, func(w *WriteTxn) error {
		n, err := w.PurgeEnded(end.Add(time.Hour), MaxPurgeBatch, true)
		if err == nil && n == 0 {
			err = errors.New("purged nothing")
		}
		return err
	})
	r := s.Read()
	if r.ar.numbers.Len() != 0 || r.ar.ids.Len() != 0 || r.ar.ended.Len() != 0 || r.ar.owners.Len() != 0 ||
		r.ar.tenants.Len() != 0 || r.ar.clusterMod.Len() != 0 || r.ar.prevMod.Len() != 0 {
		t.Errorf("a purge of every finished job left archive entries")
	}
	if jobs, _, _ := r.ListJobs(JobFilter{}); len(jobs) != len(all)-finishedCount(all)-1 {
		t.Errorf("after the purge %d jobs listed, want %d", len(jobs), len(all)-finishedCount(all)-1)
	}
	if r.ar.recs.Len() < finishedCount(all)+1 {
		t.Errorf("the purge left %d records, want one per purged job", r.ar.recs.Len())
	}
}

func finishedCount(all []*structs.Job) int {
	n := 0
	for _, j := range all {
		if j.State.IsTerminal() {
			n++
		}
	}
	return n
}

// TestArchiveConsistentView: readers running beside commits that move
// jobs to the archive always see each job exactly once, in the table or
// the archive, never both or neither (run with -race).
func TestArchiveConsistentView(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	const n = 200
	write(t, s, 10, func(w *WriteTxn) error {
		for i := range n {
			if _, err := w.SubmitJob(&structs.Job{ID: jobID(i), Tenant: "acme", Owner: "alice", App: "solver", MachineType: "n3",
				Nodes: 1, SubmitTime: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	stop := readWhile(t, s, func(r *ReadTxn) error {
		count := r.ar.numbers.Len()
		var both error
		r.ar.live.ids.Ascend(func(e *structs.Job) bool {
			if r.ar.job(e.ID) != nil {
				both = fmt.Errorf("job %s in play and in the archive", e.ID)
				return false
			}
			count++
			return true
		})
		if both != nil {
			return both
		}
		if count != n {
			return fmt.Errorf("a reader sees %d jobs, want %d", count, n)
		}
		return nil
	})
	for i := range n {
		w := s.Write(uint64(11 + i))
		if _, err := w.CancelJob(&structs.JobCancel{ID: jobID(i), Time: t0, Account: true}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 { // some transactions fail and are dropped
			w.Abort()
			write(t, s, uint64(11+i), func(w *WriteTxn) error {
				_, err := w.CancelJob(&structs.JobCancel{ID: jobID(i), Time: t0, Account: true})
				return err
			})
			continue
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if got := s.Read().ar.numbers.Len(); got != n {
		t.Fatalf("%d jobs archived, want %d", got, n)
	}
}

// checkFilledAndRestored runs check on s, then on a store restored from
// s's snapshot, which must save to the same bytes.
func checkFilledAndRestored(t *testing.T, s *Store, check func(*testing.T, *Store)) {
	t.Helper()
	t.Run("filled", func(t *testing.T) { check(t, s) })
	t.Run("restored", func(t *testing.T) {
		snap := persist(t, s)
		r := newStore(t)
		if err := r.Restore(bytes.NewReader(snap)); err != nil {
			t.Fatal(err)
		}
		check(t, r)
		if again := persist(t, r); !bytes.Equal(snap, again) {
			t.Error("the restored state saves to other bytes")
		}
	})
}

// readWhile reads s in a loop beside the caller's writes, calling check
// on each read (a non-nil error ends the loop), until the stop it
// returns is called; stop fails the test with check's error, or when no
// read ran at all.
func readWhile(t *testing.T, s *Store, check func(*ReadTxn) error) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	started := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for reads := 0; ; reads++ {
			if reads == 1 {
				close(started)
			}
			select {
			case <-done:
				if reads >= 2 {
					return
				}
			default:
			}
			if err := check(s.Read()); err != nil {
				errs <- err
				return
			}
		}
	}()
	// The writes begin once a read has run, and stop waits for one
	// more: at least one read begins after the first write, whatever
	// the scheduler does (under load the reader once ran no read at all
	// before 300 commits were done).
	select {
	case <-started:
	case err := <-errs:
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		close(done)
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
