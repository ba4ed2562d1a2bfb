package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// liveFixture runs n jobs of three owners (every fifth of a trigger)
// through random lives over many transactions, most of them still in
// play at the end: enough that every tree of the jobs in play has inner
// nodes (archiveDegree), with progress reports that keep a job's state
// and move it in the agent's watch, re-queues (PreviousCluster), ends
// and cancels. It returns the store and the raft index it wrote last.
func liveFixture(t *testing.T, n int) (*Store, uint64) {
	s := newStore(t)
	seed(t, s)
	owners := [...][3]string{{"acme", "alice", "n3"}, {"acme", "bob", "n3"}, {"beta", "carol", "g3"}}
	index := uint64(9)
	for first := 1; first <= n; first += 50 {
		index++
		write(t, s, index, func(w *WriteTxn) error {
			for i := first; i < first+50 && i <= n; i++ {
				o := owners[i%3]
				j := &structs.Job{ID: jobID(i), Tenant: o[0], Owner: o[1], App: "solver", MachineType: o[2],
					Nodes: 1, SubmitTime: t0.Add(time.Duration(i) * time.Second)}
				if i%5 == 0 {
					j.Trigger = "nightly"
				}
				if _, err := w.SubmitJob(j); err != nil {
					return err
				}
			}
			return nil
		})
	}
	rnd := rand.New(rand.NewPCG(7, 19))
	for step := range 12 {
		index++
		at := t0.Add(time.Duration(step) * time.Hour)
		write(t, s, index, func(w *WriteTxn) error {
			for i := 1; i <= n; i++ {
				if rnd.IntN(4) != 0 {
					continue
				}
				j, err := w.Job(jobID(i))
				if err != nil {
					return err
				}
				id := jobID(i)
				// A refused move leaves the transaction as it was.
				switch j.State {
				case structs.JobSubmitted, structs.JobQueued:
					if rnd.IntN(10) == 0 {
						_, _ = w.CancelJob(&structs.JobCancel{ID: id, Time: at, Account: true})
					} else {
						_, _ = w.AssignJob(&structs.JobAssignment{ID: id, Cluster: []string{"east", "west"}[rnd.IntN(2)], Time: at})
					}
				case structs.JobAssigned:
					st := []structs.JobState{structs.JobRunning, structs.JobQueued, structs.JobStarting, structs.JobAssigned}[rnd.IntN(4)]
					_, _ = w.UpdateJobState(&structs.JobStateUpdate{ID: id, State: st, Time: at, Substatus: "step"})
				case structs.JobStarting, structs.JobRunning:
					st := []structs.JobState{structs.JobRunning, structs.JobRunning, structs.JobCompleted, structs.JobQueued}[rnd.IntN(4)]
					_, _ = w.UpdateJobState(&structs.JobStateUpdate{ID: id, State: st, Time: at, Account: true, Substatus: fmt.Sprint(step)})
				}
			}
			return nil
		})
	}
	return s, index
}

// TestJobsInPlayAnswersMatchScan: with the jobs in play in their own
// trees (live.go), every job query — each ListJobs filter and page, the
// lookups by ID and number, the agent's full listing page by page and its
// watch from every modify index, a service account's rate, a trigger's
// active job — answers what a scan of all stored jobs answers; every
// tree holds exactly the jobs it should; and so does the state restored
// from its snapshot, which saves to the same bytes.
func TestJobsInPlayAnswersMatchScan(t *testing.T) {
	s, last := liveFixture(t, 700)
	all := allJobs(t, s.Read())
	inPlay, onCluster, previous := 0, 0, 0
	for _, j := range all {
		if !j.State.IsTerminal() {
			inPlay++
			if j.State.OnCluster() {
				onCluster++
			}
			if j.PreviousCluster != "" {
				previous++
			}
		}
	}
	if inPlay < 300 || onCluster < 100 || previous < 20 || inPlay == len(all) {
		t.Fatalf("fixture: %d jobs, %d in play, %d on a cluster, %d re-queued: want a mix with inner tree nodes",
			len(all), inPlay, onCluster, previous)
	}
	check := func(t *testing.T, s *Store) {
		r := s.Read()
		mine := allJobs(t, r) // this store's objects
		if diff := cmp.Diff(all, mine); diff != "" {
			t.Fatalf("stored jobs differ (-want +got):\n%s", diff)
		}
		checkLiveTrees(t, r.ar.live, mine)
		checkJobQueries(t, r, mine)
		checkLiveQueries(t, r, mine, last)
	}
	checkFilledAndRestored(t, s, check)
}

// checkLiveTrees checks that each tree of the jobs in play holds exactly
// the jobs in play it should, in its order.
func checkLiveTrees(t *testing.T, l *liveJobs, all []*structs.Job) {
	t.Helper()
	var inPlay []*structs.Job
	for _, j := range all {
		if !j.State.IsTerminal() {
			inPlay = append(inPlay, j)
		}
	}
	sorted := func(keep func(*structs.Job) bool, less func(a, b *structs.Job) bool) []uint64 {
		var out []*structs.Job
		for _, j := range inPlay {
			if keep(j) {
				out = append(out, j)
			}
		}
		slices.SortFunc(out, func(a, b *structs.Job) int {
			switch {
			case less(a, b):
				return -1
			case less(b, a):
				return 1
			}
			return 0
		})
		return jobNumbers(out)
	}
	walk := func(tr *ptree[*structs.Job]) []uint64 {
		var out []*structs.Job
		tr.Ascend(func(j *structs.Job) bool { out = append(out, j); return true })
		return jobNumbers(out)
	}
	every := func(*structs.Job) bool { return true }
	var ids []uint64
	prev := ""
	l.ids.Ascend(func(j *structs.Job) bool {
		if j.ID <= prev {
			t.Errorf("tree ids: job %s after %s", j.ID, prev)
		}
		if l.job(j.ID) != j {
			t.Errorf("tree ids: job %s not found by its ID", j.ID)
		}
		prev = j.ID
		ids = append(ids, j.Number)
		return true
	})
	for name, c := range map[string]struct {
		tree []uint64
		scan []uint64
	}{
		"numbers":    {walk(&l.numbers.ptree), sorted(every, byNumber)},
		"tenants":    {walk(&l.tenants.ptree), sorted(every, byStrNumber(jobTenant))},
		"owners":     {walk(&l.owners.ptree), sorted(every, byStrNumber(jobOwner))},
		"clusterMod": {walk(&l.clusterMod.ptree), sorted(func(j *structs.Job) bool { return j.Cluster != "" }, byStrModify(jobCluster))},
		"prevMod":    {walk(&l.prevMod.ptree), sorted(func(j *structs.Job) bool { return j.PreviousCluster != "" }, byStrModify(jobPrevious))},
		"active":     {walk(&l.active.ptree), sorted(activeOn, byStrNumber(jobCluster))},
		"ids":        {ids, sorted(every, func(a, b *structs.Job) bool { return a.ID < b.ID })},
	} {
		if !slices.Equal(c.tree, c.scan) {
			t.Errorf("tree %s holds %v, scan: %v", name, c.tree, c.scan)
		}
	}
}

// checkLiveQueries checks the agent's queries and the owner's queries
// beyond checkJobQueries: every modify index, every page size.
func checkLiveQueries(t *testing.T, r *ReadTxn, all []*structs.Job, last uint64) {
	t.Helper()
	num := func(j *structs.Job) uint64 { return j.Number }
	for _, cluster := range []string{"east", "west", "gke"} {
		for since := uint64(0); since <= last+1; since++ {
			for _, limit := range []int{0, 25} {
				want, wantNext := pageScan(all, 0, limit, num, func(j *structs.Job) bool {
					return (j.Cluster == cluster || j.PreviousCluster == cluster) && j.ModifyIndex > since
				})
				jobs, next, err := r.ClusterJobsChanged(cluster, since, 0, limit)
				if err != nil {
					t.Fatal(err)
				}
				if got := jobNumbers(jobs); !slices.Equal(got, want) || next != wantNext {
					t.Errorf("ClusterJobsChanged(%s, %d, 0, %d) = %v next %d, scan: %v next %d",
						cluster, since, limit, got, next, want, wantNext)
				}
			}
		}
		want, _ := pageScan(all, 0, 0, num, func(j *structs.Job) bool { return j.Cluster == cluster && j.State.OnCluster() })
		for _, limit := range []int{1, 7, 64} {
			var got []uint64
			after := uint64(0)
			for pages := 0; ; pages++ {
				jobs, next, err := r.ActiveClusterJobs(cluster, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(jobs) > limit || pages > len(want)+1 {
					t.Fatalf("ActiveClusterJobs(%s, %d, %d): %d jobs on page %d", cluster, after, limit, len(jobs), pages)
				}
				got = append(got, jobNumbers(jobs)...)
				if next == 0 {
					break
				}
				after = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("ActiveClusterJobs(%s) in pages of %d = %v, scan: %v", cluster, limit, got, want)
			}
		}
	}
	for _, owner := range []string{"alice", "bob", "carol", "nobody"} {
		var want uint64
		for _, j := range all {
			if j.Owner == owner && j.Trigger == "nightly" && !j.State.IsTerminal() {
				want = j.Number
				break
			}
		}
		if got, err := r.ActiveTriggerJob(owner, "nightly"); err != nil || got != want {
			t.Errorf("ActiveTriggerJob(%s) = %d, %v; scan: %d", owner, got, err, want)
		}
		if got, _ := r.ActiveTriggerJob(owner, "other"); got != 0 {
			t.Errorf("ActiveTriggerJob(%s, other) = %d, want 0", owner, got)
		}
	}
	for _, j := range all {
		if got, err := r.JobRef(j.ID); err != nil || got != j {
			t.Errorf("JobRef(%s) is not the stored job: %v", j.ID, err)
		}
	}
}

// TestJobsInPlayTransactions: a write transaction sees its own changes to
// the jobs in play; a reader keeps the view it opened; an abort drops the
// transaction's submissions, changes and ends (the snapshot saves to the
// same bytes); a commit publishes them.
func TestJobsInPlayTransactions(t *testing.T) {
	s, last := liveFixture(t, 200)
	before := s.Read()
	snap := persist(t, s)
	var running, queued *structs.Job
	for _, j := range allJobs(t, before) {
		switch {
		case running == nil && j.State == structs.JobRunning:
			running = j
		case queued == nil && j.State == structs.JobQueued:
			queued = j
		}
	}
	if running == nil || queued == nil {
		t.Fatal("fixture: no running or no queued job")
	}
	change := func(w *WriteTxn) {
		t.Helper()
		if _, err := w.SubmitJob(&structs.Job{ID: "fresh", Tenant: "acme", Owner: "alice", App: "solver", MachineType: "n3",
			Nodes: 1, SubmitTime: t0}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.UpdateJobState(&structs.JobStateUpdate{ID: running.ID, State: structs.JobCompleted, Time: t0, Account: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.AssignJob(&structs.JobAssignment{ID: queued.ID, Cluster: "east", Time: t0}); err != nil {
			t.Fatal(err)
		}
		// The transaction reads its own writes.
		if j, err := w.Job("fresh"); err != nil || j.State != structs.JobSubmitted {
			t.Fatalf("own submission: %v, %v", j, err)
		}
		if j, err := w.Job(running.ID); err != nil || j.State != structs.JobCompleted || w.ar.live.job(running.ID) != nil {
			t.Fatalf("own end: %v, %v", j, err)
		}
		if jobs, _, _ := w.ActiveClusterJobs("east", queued.Number-1, 1); len(jobs) != 1 || jobs[0].ID != queued.ID {
			t.Fatalf("own assignment not in the agent's listing: %v", jobNumbers(jobs))
		}
	}
	w := s.Write(last + 1)
	change(w)
	if _, err := before.Job("fresh"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("an open reader sees an uncommitted submission: %v", err)
	}
	w.Abort()
	if !bytes.Equal(snap, persist(t, s)) {
		t.Fatal("an aborted transaction changed the state")
	}
	if _, err := s.Read().Job("fresh"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("an aborted submission is visible: %v", err)
	}
	write(t, s, last+1, func(w *WriteTxn) error { change(w); return nil })
	if j, err := before.Job(running.ID); err != nil || j.State != structs.JobRunning {
		t.Errorf("an open reader's view changed under it: %v, %v", j, err)
	}
	r := s.Read()
	if j, err := r.Job("fresh"); err != nil || j.Number == 0 {
		t.Errorf("committed submission: %v, %v", j, err)
	}
	if r.ar.live.job(running.ID) != nil || r.ar.job(running.ID) == nil {
		t.Error("the ended job is not moved to the finished jobs")
	}
	if jobs, _, _ := r.ClusterJobsChanged("east", last, 0, 0); !slices.Contains(jobNumbers(jobs), queued.Number) {
		t.Errorf("the agent's watch from %d misses the assigned job %d: %v", last, queued.Number, jobNumbers(jobs))
	}
	checkLiveTrees(t, r.ar.live, allJobs(t, r))
}

// TestJobsInPlayConsistentView: readers beside commits (and aborted
// transactions) that submit a job and end the one before always see the
// jobs of one commit: as many as its modify index says, each in play or
// finished, never both or neither (run with -race).
func TestJobsInPlayConsistentView(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	const base, n = 100, 300
	sub := func(w *WriteTxn, i int) {
		if _, err := w.SubmitJob(&structs.Job{ID: jobID(i), Tenant: "acme", Owner: "alice", App: "solver", MachineType: "n3",
			Nodes: 1, SubmitTime: t0}); err != nil {
			t.Error(err)
		}
		if i > 0 {
			if _, err := w.CancelJob(&structs.JobCancel{ID: jobID(i - 1), Time: t0, Account: true}); err != nil {
				t.Error(err)
			}
		}
	}
	stop := readWhile(t, s, func(r *ReadTxn) error {
		at := r.Index(TableJobs)
		if at == 0 {
			return nil
		}
		want := int(at-base) + 1
		live, finished := r.ar.live.ids.Len(), r.ar.ids.Len()
		if live != 1 || finished != want-1 || r.ar.live.numbers.Len() != 1 || r.ar.numbers.Len() != want-1 {
			return fmt.Errorf("at index %d a reader sees %d jobs in play and %d finished, want 1 and %d", at, live, finished, want-1)
		}
		if j, err := r.JobByNumber(uint64(want)); err != nil || j.State != structs.JobSubmitted {
			return fmt.Errorf("at index %d the newest job: %v, %v", at, j, err)
		}
		return nil
	})
	for i := range n {
		if i%4 == 3 { // some transactions fail and are dropped
			w := s.Write(uint64(base + i))
			sub(w, i)
			w.Abort()
		}
		w := s.Write(uint64(base + i))
		sub(w, i)
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	stop()
}

// TestJobsInPlayWakeWatchers: what waits on the jobs table's modify index
// (the agent's watch, the SSE streams, the portal, `--follow`) wakes on a
// commit that changes a job in play and finds the change, and stays
// asleep through an aborted one.
func TestJobsInPlayWakeWatchers(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	submit(t, s, 10, "j1", "acme", "alice", "n3")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	woke := startWait(ctx, s, TableJobs, 10)
	anyWoke := make(chan waitResult, 1)
	go func() {
		idx, err := s.WaitForAny(ctx, 10, TableJobs, TableApps)
		anyWoke <- waitResult{idx, err}
	}()
	w := s.Write(11)
	if _, err := w.AssignJob(&structs.JobAssignment{ID: "j1", Cluster: "east", Time: t0}); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stop()
	if idx, err := s.WaitForIndex(short, TableJobs, 10); !errors.Is(err, context.DeadlineExceeded) || idx != 10 {
		t.Fatalf("after an abort the jobs index is %d (%v), want 10", idx, err)
	}
	write(t, s, 12, func(w *WriteTxn) error {
		_, err := w.AssignJob(&structs.JobAssignment{ID: "j1", Cluster: "east", Time: t0})
		return err
	})
	for name, ch := range map[string]<-chan waitResult{"WaitForIndex": woke, "WaitForAny": anyWoke} {
		res := <-ch
		if res.err != nil || res.index != 12 {
			t.Fatalf("%s: %d, %v; want 12", name, res.index, res.err)
		}
	}
	jobs, _, err := s.Read().ClusterJobsChanged("east", 10, 0, 0)
	if err != nil || len(jobs) != 1 || jobs[0].ID != "j1" || jobs[0].State != structs.JobAssigned {
		t.Fatalf("the woken agent's watch: %v, %v", jobs, err)
	}
}

// TestSubmitSeesOwnCatalogWrites: a transaction's submissions check their
// tenant and machine type once per transaction (mustExistCached), but
// never past a change the transaction made to those tables: a machine
// type it deleted is refused, one it created is accepted.
func TestSubmitSeesOwnCatalogWrites(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	job := func(id, mt string) *structs.Job {
		return &structs.Job{ID: id, Tenant: "beta", Owner: "carol", App: "solver", MachineType: mt, Nodes: 1, SubmitTime: t0}
	}
	w := s.Write(10)
	defer w.Abort()
	if _, err := w.SubmitJob(job("a", "g3")); err != nil {
		t.Fatal(err)
	}
	if err := w.DeleteMachineType("g3"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.SubmitJob(job("b", "g3")); !errors.Is(err, structs.ErrInvalid) {
		t.Fatalf("submission on a machine type the transaction deleted: %v, want ErrInvalid", err)
	}
	if _, err := w.SubmitJob(job("c", "g4")); !errors.Is(err, structs.ErrInvalid) {
		t.Fatalf("submission on an unknown machine type: %v, want ErrInvalid", err)
	}
	if err := w.UpsertMachineType(&structs.MachineType{Name: "g4", Cores: 8, RAM: 64, Cluster: "west"}, structs.CAS{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.SubmitJob(job("c", "g4")); err != nil {
		t.Fatalf("submission on a machine type the transaction created: %v", err)
	}
}
