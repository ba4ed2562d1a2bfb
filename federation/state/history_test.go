package state

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// historyFixture appends audit events of three tenants (and of none),
// several actors, actions and objects, with times out of their sequence
// order, over many transactions, purges the oldest, and runs jobs through
// submissions and cancels for the event log. It returns the next free
// raft index.
func historyFixture(t *testing.T) (*Store, uint64) {
	s := newStore(t)
	seed(t, s)
	rnd := rand.New(rand.NewPCG(7, 19))
	tenants := [...]string{"acme", "beta", "", "acme"}
	actors := [...]string{"alice", "bob", "carol", "cluster:east"}
	actions := [...]string{"job.submit", "job.cancel", "user.update", "tenant.create", "user.key"}
	kinds := [...]string{"job", "user", "tenant", ""}
	index, n := uint64(10), 0
	for step := range 30 {
		write(t, s, index, func(w *WriteTxn) error {
			for range rnd.IntN(9) {
				n++
				e := &structs.AuditEvent{ID: fmt.Sprintf("ev-%04d", rnd.IntN(10000)*10+n%10), Actor: actors[rnd.IntN(len(actors))],
					Tenant: tenants[rnd.IntN(len(tenants))], Action: actions[rnd.IntN(len(actions))], ObjectKind: kinds[rnd.IntN(len(kinds))],
					ObjectName: fmt.Sprintf("o%d", rnd.IntN(4)), Outcome: "ok",
					Time: t0.Add(time.Duration(step*10+rnd.IntN(25)) * time.Minute)} // out of Seq order, some equal
				if _, err := w.AppendAudit(e); err != nil && !errors.Is(err, structs.ErrConflict) {
					return err
				}
			}
			for k := range rnd.IntN(4) {
				id := fmt.Sprintf("hist-%d-%d", step, k)
				if _, err := w.SubmitJob(&structs.Job{ID: id, Tenant: "acme", Owner: "alice", App: "solver", MachineType: "n3",
					Nodes: 1, SubmitTime: t0}); err != nil {
					return err
				}
				if rnd.IntN(2) == 0 {
					if _, err := w.CancelJob(&structs.JobCancel{ID: id, Time: t0.Add(time.Minute)}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		index++
		if step == 20 { // retention: the events of the first hour go
			write(t, s, index, func(w *WriteTxn) error {
				for {
					n, err := w.PurgeAudit(t0.Add(time.Hour), 3)
					if err != nil || n < 3 {
						return err
					}
				}
			})
			index++
		}
	}
	return s, index
}

// allAudit is every stored audit event in Seq order.
func allAudit(r *ReadTxn) []*structs.AuditEvent {
	var all []*structs.AuditEvent
	r.ar.auditIDs.Ascend(func(e *structs.AuditEvent) bool { all = append(all, e); return true })
	slices.SortFunc(all, func(a, b *structs.AuditEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	return all
}

// allEvents is every stored job event in Seq order.
func allEvents(r *ReadTxn) []*structs.JobEvent {
	var all []*structs.JobEvent
	r.ar.eachEvent(0, func(e *structs.JobEvent) bool { all = append(all, e); return true })
	return all
}

// TestHistoryAnswersMatchScan: with the audit trail and the job events in
// the archive, every audit and event query answers what a scan of all
// stored events answers, and so does the state restored from its
// snapshot, which saves to the same bytes.
func TestHistoryAnswersMatchScan(t *testing.T) {
	s, _ := historyFixture(t)
	r := s.Read()
	audit, events := allAudit(r), allEvents(r)
	if len(audit) < 60 || len(events) < 30 {
		t.Fatalf("fixture: %d audit events, %d job events", len(audit), len(events))
	}
	check := func(t *testing.T, s *Store) {
		r := s.Read()
		if diff := gocmp.Diff(audit, allAudit(r)); diff != "" {
			t.Fatalf("stored audit events differ (-want +got):\n%s", diff)
		}
		if diff := gocmp.Diff(events, allEvents(r)); diff != "" {
			t.Fatalf("stored job events differ (-want +got):\n%s", diff)
		}
		checkAuditQueries(t, r, audit)
		checkEventQueries(t, r, events)
	}
	checkFilledAndRestored(t, s, check)
}

func checkAuditQueries(t *testing.T, r *ReadTxn, all []*structs.AuditEvent) {
	t.Helper()
	byTime := slices.Clone(all)
	slices.SortFunc(byTime, func(a, b *structs.AuditEvent) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Seq, b.Seq))
	})
	n := 0
	times := []time.Time{{}, t0.Add(30 * time.Minute), t0.Add(75 * time.Minute), t0.Add(4 * time.Hour), t0.Add(9 * time.Hour)}
	for _, tenant := range []string{"", "acme", "beta", "gamma"} {
		for _, since := range times {
			for _, until := range times {
				for _, f := range []AuditQuery{{}, {Actor: "bob"}, {Object: "o1"}, {Object: "user/"}, {Object: "job/o2"},
					{Action: "job."}, {Action: "user.update"}, {Actor: "alice", Action: "job.", Object: "job/"}} {
					for _, limit := range []int{0, 1, 5} {
						q := f
						q.Tenant, q.Since, q.Until, q.Limit = tenant, since, until, limit
						got, err := r.QueryAudit(q)
						if err != nil {
							t.Fatal(err)
						}
						var want []*structs.AuditEvent
						for _, e := range byTime {
							if e.Time.Before(since) || (!until.IsZero() && !e.Time.Before(until)) || !q.matches(e) {
								continue
							}
							if limit > 0 && len(want) == limit {
								break
							}
							want = append(want, e)
						}
						if diff := gocmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
							t.Fatalf("QueryAudit(%+v) (-scan +got):\n%s", q, diff)
						}
						n++
					}
				}
			}
		}
	}
	seq := func(e *structs.AuditEvent) uint64 { return e.Seq }
	for _, tenant := range []string{"", "acme", "beta"} {
		for _, after := range []uint64{0, 5, 40, 1 << 40} {
			for _, limit := range []int{0, 1, 7, -1} {
				f := RecordFilter{Tenant: tenant, After: after, Limit: limit}
				got, next, err := r.ListAudit(f)
				if err != nil {
					t.Fatal(err)
				}
				want, wantNext := pageScan(all, after, limit, seq, func(e *structs.AuditEvent) bool { return tenant == "" || e.Tenant == tenant })
				if g := names(got, func(e *structs.AuditEvent) string { return fmt.Sprint(e.Seq) }); !slices.Equal(g, names(want, func(n uint64) string { return fmt.Sprint(n) })) || next != wantNext {
					t.Errorf("ListAudit(%+v) = %v next %d, scan: %v next %d", f, g, next, want, wantNext)
				}
				n++
			}
		}
	}
	for _, e := range all {
		if got, err := r.AuditEvent(e.ID); err != nil || !gocmp.Equal(got, e) {
			t.Errorf("AuditEvent(%s) = %v, %v", e.ID, got, err)
		}
	}
	if _, err := r.AuditEvent("ev-none"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("AuditEvent of an unknown ID: %v", err)
	}
	for _, cut := range times[1:] {
		want := slices.ContainsFunc(all, func(e *structs.AuditEvent) bool { return e.Time.Before(cut) })
		if got := r.AuditBefore(cut); got != want {
			t.Errorf("AuditBefore(%v) = %v, scan: %v", cut, got, want)
		}
	}
	if n == 0 {
		t.Fatal("no query checked")
	}
}

func checkEventQueries(t *testing.T, r *ReadTxn, all []*structs.JobEvent) {
	t.Helper()
	last := all[len(all)-1].Index
	for since := uint64(0); since <= last+1; since++ {
		for _, limit := range []int{0, 1, 3} {
			got, next, err := r.EventsAfter(since, limit)
			if err != nil {
				t.Fatal(err)
			}
			var want []*structs.JobEvent
			wantNext := since
			for _, e := range all {
				if e.Index <= since {
					continue
				}
				if limit > 0 && len(want) >= limit && e.Index != wantNext {
					break
				}
				want, wantNext = append(want, e), e.Index
			}
			if diff := gocmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" || next != wantNext {
				t.Fatalf("EventsAfter(%d, %d): next %d, scan %d (-scan +got):\n%s", since, limit, next, wantNext, diff)
			}
		}
	}
	if got := r.OldestEventIndex(); got != all[0].Index {
		t.Errorf("OldestEventIndex = %d, scan: %d", got, all[0].Index)
	}
}

// TestHistoryTransactions: a reader keeps the view it opened while audit
// and job events are appended and purged; an aborted transaction's
// appends and purge leave the state as it was; a commit publishes them
// and bumps the tables' modify indexes.
func TestHistoryTransactions(t *testing.T) {
	s, index := historyFixture(t)
	before := s.Read()
	audit, events := allAudit(before), allEvents(before)
	snap := persist(t, s)
	appendSome := func(w *WriteTxn) error {
		if _, err := w.AppendAudit(&structs.AuditEvent{ID: "ev-new", Actor: "alice", Tenant: "acme", Action: "job.submit", Time: t0.Add(50 * time.Hour)}); err != nil {
			return err
		}
		if _, err := w.SubmitJob(&structs.Job{ID: "hist-new", Tenant: "acme", Owner: "alice", App: "solver", MachineType: "n3", Nodes: 1, SubmitTime: t0}); err != nil {
			return err
		}
		if n, err := w.PurgeAudit(t0.Add(3*time.Hour), MaxPurgeBatch); err != nil || n == 0 {
			return fmt.Errorf("purge in the transaction: %d, %v", n, err)
		}
		return nil
	}

	w := s.Write(index)
	if err := appendSome(w); err != nil {
		t.Fatal(err)
	}
	if _, err := w.AuditEvent("ev-new"); err != nil {
		t.Errorf("the transaction does not see its own event: %v", err)
	}
	if absent, err := w.AuditAbsent(&structs.AuditEvent{ID: "ev-new", Actor: "a", Action: "a", Time: t0}); err != nil || absent {
		t.Errorf("AuditAbsent of the transaction's own event: %v, %v", absent, err)
	}
	if got, _, _ := w.EventsAfter(index-1, 0); len(got) != 1 || got[0].JobID != "hist-new" {
		t.Errorf("the transaction's events after %d: %v", index-1, got)
	}
	if w.AuditBefore(t0.Add(3 * time.Hour)) {
		t.Error("the transaction does not see its purge")
	}
	w.Abort()
	if got := persist(t, s); !bytes.Equal(got, snap) {
		t.Fatal("an aborted transaction changed the state")
	}
	if _, err := s.Read().AuditEvent("ev-new"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("an aborted event is stored: %v", err)
	}

	write(t, s, index, appendSome)
	if diff := gocmp.Diff(audit, allAudit(before)); diff != "" {
		t.Errorf("an open reader's audit trail changed (-want +got):\n%s", diff)
	}
	if diff := gocmp.Diff(events, allEvents(before)); diff != "" {
		t.Errorf("an open reader's event log changed (-want +got):\n%s", diff)
	}
	after := s.Read()
	if _, err := after.AuditEvent("ev-new"); err != nil {
		t.Errorf("the committed event: %v", err)
	}
	if after.AuditBefore(t0.Add(3 * time.Hour)) {
		t.Error("the committed purge left older events")
	}
	if got, _, _ := after.EventsAfter(index-1, 0); len(got) != 1 || got[0].JobID != "hist-new" {
		t.Errorf("events after %d: %v", index-1, got)
	}
	for _, tbl := range []string{TableAudit, TableEvents} {
		if got := after.Index(tbl); got != index {
			t.Errorf("modify index of %s = %d, want %d", tbl, got, index)
		}
	}
}

// TestHistoryConsistentView: readers beside commits (and aborted
// transactions) that each submit a job with its audit event always see
// the jobs table, the audit trail and the event log of one commit: as
// many jobs as submit events and job events (run with -race).
func TestHistoryConsistentView(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	const n = 300
	stop := readWhile(t, s, func(r *ReadTxn) error {
		jobs, _, err := r.ListJobs(JobFilter{})
		if err != nil {
			return err
		}
		audit, err := r.QueryAudit(AuditQuery{Tenant: "acme"})
		if err != nil {
			return err
		}
		events, _, err := r.EventsAfter(0, 0)
		if err != nil {
			return err
		}
		if len(jobs) != len(audit) || len(jobs) != len(events) {
			return fmt.Errorf("a reader sees %d jobs, %d audit events, %d job events", len(jobs), len(audit), len(events))
		}
		return nil
	})
	for i := range n {
		submitAudited := func(w *WriteTxn) error {
			if _, err := w.SubmitJob(&structs.Job{ID: jobID(i), Tenant: "acme", Owner: "alice", App: "solver", MachineType: "n3",
				Nodes: 1, SubmitTime: t0}); err != nil {
				return err
			}
			_, err := w.AppendAudit(&structs.AuditEvent{ID: "ev-" + jobID(i), Actor: "alice", Tenant: "acme", Action: "job.submit", Time: t0})
			return err
		}
		w := s.Write(uint64(10 + i))
		if err := submitAudited(w); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 { // some transactions fail and are dropped
			w.Abort()
			write(t, s, uint64(10+i), submitAudited)
			continue
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if got := s.Read().ar.auditIDs.Len(); got != n {
		t.Fatalf("%d audit events stored, want %d", got, n)
	}
}

// TestHistoryWakesWatchers: a commit that appends a job event wakes the
// waiters on the events table (GET /v1/events?wait, the SSE streams, the
// CLI's --follow) and one that appends an audit event those on the audit
// table; neither wakes on a commit that writes neither.
func TestHistoryWakesWatchers(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	events := startWait(ctx, s, TableEvents, 3)
	audit := startWait(ctx, s, TableAudit, 3)
	write(t, s, 4, func(w *WriteTxn) error { return w.DeleteApp("solver") })
	write(t, s, 5, func(w *WriteTxn) error {
		_, err := w.SubmitJob(&structs.Job{ID: "j1", Tenant: "acme", Owner: "alice", App: "solver", MachineType: "n3", Nodes: 1, SubmitTime: t0})
		return err
	})
	if got := <-events; got.err != nil || got.index != 5 {
		t.Errorf("the events waiter woke with %d, %v; want 5", got.index, got.err)
	}
	select {
	case got := <-audit:
		t.Fatalf("the audit waiter woke without an audit event: %d, %v", got.index, got.err)
	default:
	}
	write(t, s, 6, func(w *WriteTxn) error {
		_, err := w.AppendAudit(&structs.AuditEvent{ID: "ev-1", Actor: "alice", Tenant: "acme", Action: "job.submit", Time: t0})
		return err
	})
	if got := <-audit; got.err != nil || got.index != 6 {
		t.Errorf("the audit waiter woke with %d, %v; want 6", got.index, got.err)
	}
}

// TestEventLogBoundedAcrossRestore: the event log's bound and its pruned
// index hold in one transaction of many events, and across a snapshot.
func TestEventLogBoundedAcrossRestore(t *testing.T) {
	s := eventsStore(t)
	const jobs = structs.MaxEvents + 30
	write(t, s, 10, func(w *WriteTxn) error {
		for i := range jobs - 20 {
			if _, err := w.SubmitJob(&structs.Job{ID: fmt.Sprintf("b-%d", i), Tenant: "acme", Owner: "alice", App: "x",
				MachineType: "n1", Nodes: 1, SubmitTime: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	if got := s.Read().EventsPrunedIndex(); got != 10 {
		t.Errorf("pruned index %d after one transaction that dropped events, want 10", got)
	}
	for i := jobs - 20; i < jobs; i++ {
		write(t, s, uint64(11+i), func(w *WriteTxn) error {
			_, err := w.SubmitJob(&structs.Job{ID: fmt.Sprintf("b-%d", i), Tenant: "acme", Owner: "alice", App: "x",
				MachineType: "n1", Nodes: 1, SubmitTime: t0})
			return err
		})
	}
	r := newStore(t)
	if err := r.Restore(bytes.NewReader(persist(t, s))); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Store{"filled": s, "restored": r} {
		all := allEvents(s.Read())
		if len(all) != structs.MaxEvents || all[0].Seq != jobs-structs.MaxEvents+1 || all[len(all)-1].Seq != jobs {
			t.Errorf("%s: %d events, Seq %d..%d; want %d, %d..%d", name, len(all), all[0].Seq, all[len(all)-1].Seq,
				structs.MaxEvents, jobs-structs.MaxEvents+1, jobs)
		}
		// Every event dropped was one of the big transaction's.
		if got, want := s.Read().EventsPrunedIndex(), uint64(10); got != want {
			t.Errorf("%s: pruned index %d, want %d", name, got, want)
		}
	}
}
