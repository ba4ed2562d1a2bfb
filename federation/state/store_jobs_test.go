package state

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// jobsFixture submits 12 jobs: owners alternate alice/bob (acme), every
// fourth is carol's (beta); jobs 1..6 are assigned to east or west, 1 and 2
// run, 1 completes.
func jobsFixture(t *testing.T) *Store {
	s := newStore(t)
	seed(t, s)
	for i := 1; i <= 12; i++ {
		tenant, owner, mt := "acme", "alice", "n3"
		switch {
		case i%4 == 0:
			tenant, owner, mt = "beta", "carol", "g3"
		case i%2 == 0:
			owner = "bob"
		}
		submit(t, s, uint64(10+i), jobID(i), tenant, owner, mt)
	}
	write(t, s, 30, func(w *WriteTxn) error {
		for i := 1; i <= 6; i++ {
			cl := "east"
			if i%2 == 0 {
				cl = "west"
			}
			if _, err := w.AssignJob(&structs.JobAssignment{ID: jobID(i), Cluster: cl, Time: t0}); err != nil {
				return err
			}
		}
		for i := 1; i <= 2; i++ {
			if _, err := w.UpdateJobState(&structs.JobStateUpdate{ID: jobID(i), State: structs.JobRunning, Time: t0}); err != nil {
				return err
			}
		}
		_, err := w.UpdateJobState(&structs.JobStateUpdate{ID: jobID(1), State: structs.JobCompleted, Time: t0})
		return err
	})
	return s
}

func TestListJobs(t *testing.T) {
	s := jobsFixture(t)
	tests := map[string]struct {
		f        JobFilter
		want     []uint64
		wantNext uint64
	}{
		"all":                   {JobFilter{}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 0},
		"tenant":                {JobFilter{Tenant: "beta"}, []uint64{4, 8, 12}, 0},
		"owner":                 {JobFilter{Owner: "bob"}, []uint64{2, 6, 10}, 0},
		"owner and tenant":      {JobFilter{Owner: "bob", Tenant: "beta"}, nil, 0},
		"state":                 {JobFilter{State: structs.JobAssigned}, []uint64{3, 4, 5, 6}, 0},
		"cluster":               {JobFilter{Cluster: "east"}, []uint64{1, 3, 5}, 0},
		"cluster active":        {JobFilter{Cluster: "east", Active: true}, []uint64{3, 5}, 0},
		"active":                {JobFilter{Active: true}, []uint64{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 0},
		"active after limit":    {JobFilter{Active: true, After: 3, Limit: 4}, []uint64{4, 5, 6, 7}, 7},
		"active matching":       {JobFilter{Active: true, Match: func(j *structs.Job) bool { return j.Number%5 == 0 }}, []uint64{5, 10}, 0},
		"cluster and state":     {JobFilter{Cluster: "west", State: structs.JobRunning}, []uint64{2}, 0},
		"finished state":        {JobFilter{State: structs.JobCompleted}, []uint64{1}, 0},
		"tenant finished state": {JobFilter{Tenant: "acme", State: structs.JobCompleted}, []uint64{1}, 0},
		"other tenant finished": {JobFilter{Tenant: "beta", State: structs.JobCompleted}, nil, 0},
		"cluster finished":      {JobFilter{Cluster: "east", State: structs.JobCompleted}, []uint64{1}, 0},
		"cluster not running":   {JobFilter{Cluster: "east", State: structs.JobRunning}, nil, 0},
		"unassigned queued":     {JobFilter{State: structs.JobSubmitted, Tenant: "acme"}, []uint64{7, 9, 10, 11}, 0},
		"after":                 {JobFilter{After: 9}, []uint64{10, 11, 12}, 0},
		"limit":                 {JobFilter{Limit: 5}, []uint64{1, 2, 3, 4, 5}, 5},
		"tenant after limit":    {JobFilter{Tenant: "acme", After: 3, Limit: 2}, []uint64{5, 6}, 6},
		"limit exactly the end": {JobFilter{Tenant: "beta", Limit: 3}, []uint64{4, 8, 12}, 0},
		"after the end":         {JobFilter{After: 12}, nil, 0},
		"unknown owner":         {JobFilter{Owner: "zed"}, nil, 0},
		"after max":             {JobFilter{After: ^uint64(0)}, nil, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			jobs, next, err := s.Read().ListJobs(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, jobNumbers(jobs), cmpEmptyNil()); diff != "" {
				t.Errorf("numbers (-want +got):\n%s", diff)
			}
			if next != tc.wantNext {
				t.Errorf("next = %d, want %d", next, tc.wantNext)
			}
		})
	}
}

func cmpEmptyNil() cmp.Option {
	return cmp.FilterValues(func(a, b []uint64) bool { return len(a) == 0 && len(b) == 0 },
		cmp.Comparer(func(a, b []uint64) bool { return true }))
}

func TestListJobsPaging(t *testing.T) {
	s := jobsFixture(t)
	for _, f := range []JobFilter{{}, {Tenant: "acme"}, {Owner: "alice"}, {State: structs.JobSubmitted}, {Active: true}} {
		all, _, _ := s.Read().ListJobs(f)
		for limit := 1; limit <= 5; limit++ {
			var got []uint64
			p := f
			p.Limit = limit
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatalf("%+v: paging does not end", p)
				}
				jobs, next, err := s.Read().ListJobs(p)
				if err != nil {
					t.Fatal(err)
				}
				if len(jobs) > limit {
					t.Fatalf("%+v: page of %d", p, len(jobs))
				}
				got = append(got, jobNumbers(jobs)...)
				if next == 0 {
					break
				}
				p.After = next
			}
			if diff := cmp.Diff(jobNumbers(all), got); diff != "" {
				t.Errorf("filter %+v limit %d: pages differ from the full list:\n%s", f, limit, diff)
			}
		}
	}
}

func TestJobLifecycle(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	j := submit(t, s, 10, "j1", "acme", "alice", "n3")
	if j.Number != 1 || j.Name != "alice-2026-11-28-0001" || j.State != structs.JobSubmitted ||
		j.Priority != structs.PriorityNormal || j.CreateIndex != 10 {
		t.Fatalf("submitted job: %+v", j)
	}
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Minute) }
	steps := []struct {
		name string
		op   func(w *WriteTxn) (*structs.Job, error)
		want error
		// check inspects the job after the step.
		check func(j *structs.Job) bool
	}{
		{"resubmit same id", func(w *WriteTxn) (*structs.Job, error) {
			return w.SubmitJob(&structs.Job{ID: "j1", Tenant: "acme", Owner: "a", App: "x", MachineType: "n3", Nodes: 1, SubmitTime: t0})
		}, structs.ErrConflict, nil},
		{"submit unknown machine type", func(w *WriteTxn) (*structs.Job, error) {
			return w.SubmitJob(&structs.Job{ID: "j2", Tenant: "acme", Owner: "a", App: "x", MachineType: "zz", Nodes: 1, SubmitTime: t0})
		}, structs.ErrInvalid, nil},
		{"running before assignment", update("j1", "", structs.JobRunning, at(1)), structs.ErrConflict, nil},
		{"assign via state update", update("j1", "", structs.JobAssigned, at(1)), structs.ErrInvalid, nil},
		{"assign to unknown cluster", assign("j1", "nope", at(1)), structs.ErrInvalid, nil},
		{"assign", assign("j1", "east", at(2)), nil, func(j *structs.Job) bool {
			return j.State == structs.JobAssigned && j.Cluster == "east" && j.AssignTime.Equal(at(2))
		}},
		{"assign twice", assign("j1", "west", at(3)), structs.ErrConflict, nil},
		{"re-queue", update("j1", "east", structs.JobQueued, at(4)), nil, func(j *structs.Job) bool {
			return j.Cluster == "" && j.AssignTime.IsZero()
		}},
		{"reassign", assign("j1", "west", at(5)), nil, func(j *structs.Job) bool { return j.Cluster == "west" }},
		{"stale agent", update("j1", "east", structs.JobStarting, at(6)), structs.ErrConflict, nil},
		{"starting", update("j1", "west", structs.JobStarting, at(6)), nil, func(j *structs.Job) bool {
			return j.StartTime.IsZero()
		}},
		{"running", update("j1", "west", structs.JobRunning, at(7)), nil, func(j *structs.Job) bool {
			return j.StartTime.Equal(at(7))
		}},
		{"progress", func(w *WriteTxn) (*structs.Job, error) {
			return w.UpdateJobState(&structs.JobStateUpdate{ID: "j1", State: structs.JobRunning,
				Substatus: "step 40", LogTail: "iter 40\n", Time: at(8)})
		}, nil, func(j *structs.Job) bool { return j.Substatus == "step 40" && j.LogTail == "iter 40\n" }},
		{"no restart", update("j1", "", structs.JobQueued, at(9)), structs.ErrConflict, nil},
		{"fails", func(w *WriteTxn) (*structs.Job, error) {
			return w.UpdateJobState(&structs.JobStateUpdate{ID: "j1", State: structs.JobCompletedWithError,
				ExitCode: 3, Time: at(10)})
		}, nil, func(j *structs.Job) bool {
			return j.ExitCode == 3 && j.EndTime.Equal(at(10)) && j.LogTail == "iter 40\n"
		}},
		{"terminal repeated", update("j1", "", structs.JobCompletedWithError, at(11)), structs.ErrConflict, nil},
		{"cancel finished", cancel("j1", at(11)), structs.ErrConflict, nil},
		{"unknown job", update("zz", "", structs.JobRunning, at(11)), structs.ErrNotFound, nil},
		{"no time", update("j1", "", structs.JobRunning, time.Time{}), structs.ErrInvalid, nil},
	}
	idx := uint64(20)
	for _, st := range steps {
		idx++
		w := s.Write(idx)
		got, err := st.op(w)
		if cerr := w.Commit(); cerr != nil {
			t.Fatal(cerr)
		}
		if !errors.Is(err, st.want) {
			t.Fatalf("%s: error %v, want %v", st.name, err, st.want)
		}
		if err != nil {
			var te *structs.TransitionError
			if errors.As(err, &te) && te.JobID != "j1" {
				t.Errorf("%s: transition error for %q", st.name, te.JobID)
			}
			continue
		}
		stored, _ := s.Read().Job("j1")
		if diff := cmp.Diff(stored, got); diff != "" {
			t.Errorf("%s: returned job differs from stored:\n%s", st.name, diff)
		}
		if st.check != nil && !st.check(stored) {
			t.Errorf("%s: job after step: %+v", st.name, stored)
		}
		if stored.ModifyIndex != idx || stored.CreateIndex != 10 {
			t.Errorf("%s: indexes %d/%d", st.name, stored.CreateIndex, stored.ModifyIndex)
		}
	}
}

func update(id, cluster string, to structs.JobState, at time.Time) func(*WriteTxn) (*structs.Job, error) {
	return func(w *WriteTxn) (*structs.Job, error) {
		return w.UpdateJobState(&structs.JobStateUpdate{ID: id, Cluster: cluster, State: to, Time: at})
	}
}

func assign(id, cluster string, at time.Time) func(*WriteTxn) (*structs.Job, error) {
	return func(w *WriteTxn) (*structs.Job, error) {
		return w.AssignJob(&structs.JobAssignment{ID: id, Cluster: cluster, Time: at})
	}
}

func cancel(id string, at time.Time) func(*WriteTxn) (*structs.Job, error) {
	return func(w *WriteTxn) (*structs.Job, error) {
		return w.CancelJob(&structs.JobCancel{ID: id, Reason: "user", Time: at})
	}
}

func TestCancelJob(t *testing.T) {
	tests := map[string]struct {
		setup []func(*WriteTxn) (*structs.Job, error)
		want  structs.JobState
	}{
		"submitted": {nil, structs.JobCanceled},
		"queued":    {[]func(*WriteTxn) (*structs.Job, error){update("j", "", structs.JobQueued, t0)}, structs.JobCanceled},
		"assigned":  {[]func(*WriteTxn) (*structs.Job, error){assign("j", "east", t0)}, structs.JobCanceled},
		"running": {[]func(*WriteTxn) (*structs.Job, error){assign("j", "east", t0),
			update("j", "east", structs.JobRunning, t0)}, structs.JobTerminated},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			seed(t, s)
			submit(t, s, 10, "j", "acme", "alice", "n3")
			for i, op := range tc.setup {
				write(t, s, uint64(11+i), func(w *WriteTxn) error { _, err := op(w); return err })
			}
			var got *structs.Job
			write(t, s, 20, func(w *WriteTxn) (err error) { got, err = cancel("j", t0.Add(time.Hour))(w); return err })
			if got.State != tc.want || got.Substatus != "user" || !got.EndTime.Equal(t0.Add(time.Hour)) {
				t.Errorf("canceled job: %+v", got)
			}
		})
	}
}

func TestPurgeJobs(t *testing.T) {
	s := jobsFixture(t)
	w := s.Write(40)
	if _, err := w.PurgeJobs([]string{jobID(1), jobID(2)}, false); !errors.Is(err, structs.ErrConflict) {
		t.Errorf("purge of a running job: %v", err)
	}
	n, err := w.PurgeJobs([]string{jobID(1), jobID(1), "missing"}, false)
	if err != nil || n != 1 {
		t.Errorf("purge = %d, %v", n, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read().Job(jobID(1)); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("purged job still there: %v", err)
	}
	// Numbers never repeat after a purge.
	if j := submit(t, s, 41, "new", "acme", "alice", "n3"); j.Number != 13 {
		t.Errorf("number after purge = %d, want 13", j.Number)
	}
	// A purged job's ID is free again (intended); the new job is a new
	// number, so nothing keyed on numbers confuses it with the old one.
	if j := submit(t, s, 42, jobID(1), "acme", "alice", "n3"); j.Number != 14 || j.CreateIndex != 42 {
		t.Errorf("resubmitted purged id: number %d, create index %d; want 14, 42", j.Number, j.CreateIndex)
	}
	// A late report that names the purged job's number does not touch the
	// new job with its id; one naming the new number does.
	w = s.Write(43)
	late := &structs.JobStateUpdate{ID: jobID(1), Number: 1, State: structs.JobQueued, Substatus: "late", Time: t0}
	if _, err := w.UpdateJobState(late); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("report for the purged number: %v, want ErrNotFound", err)
	}
	fresh := &structs.JobStateUpdate{ID: jobID(1), Number: 14, State: structs.JobQueued, Substatus: "fresh", Time: t0}
	if _, err := w.UpdateJobState(fresh); err != nil {
		t.Errorf("report for the new number: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if j, err := s.Read().Job(jobID(1)); err != nil || j.Substatus != "fresh" {
		t.Errorf("job after reports: %+v, %v", j, err)
	}
}

func TestRecords(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	write(t, s, 10, func(w *WriteTxn) error {
		for i, tenant := range []string{"acme", "beta", "acme", "acme", "beta"} {
			if _, err := w.AppendAccounting(&structs.AccountingRecord{ID: jobID(i) + "-acct", JobID: jobID(i),
				Tenant: tenant, Start: t0, End: t0.Add(time.Hour), Cost: 1.5}); err != nil {
				return err
			}
			if _, err := w.AppendAudit(&structs.AuditEvent{ID: jobID(i) + "-audit", Actor: "alice",
				Tenant: tenant, Action: "job.submit", Time: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	w := s.Write(11)
	if _, err := w.AppendAccounting(&structs.AccountingRecord{ID: jobID(0) + "-acct", JobID: "x", Tenant: "acme"}); !errors.Is(err, structs.ErrConflict) {
		t.Errorf("duplicate accounting: %v", err)
	}
	w.Abort()
	tests := map[string]struct {
		f        RecordFilter
		want     []uint64
		wantNext uint64
	}{
		"all":          {RecordFilter{}, []uint64{1, 2, 3, 4, 5}, 0},
		"tenant":       {RecordFilter{Tenant: "acme"}, []uint64{1, 3, 4}, 0},
		"tenant page":  {RecordFilter{Tenant: "acme", Limit: 2}, []uint64{1, 3}, 3},
		"tenant after": {RecordFilter{Tenant: "acme", After: 3}, []uint64{4}, 0},
		"beta":         {RecordFilter{Tenant: "beta", After: 2}, []uint64{5}, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			acct, next, err := s.Read().ListAccounting(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]uint64, len(acct))
			for i, a := range acct {
				got[i] = a.Seq
			}
			audit, anext, err := s.Read().ListAudit(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			gotAudit := make([]uint64, len(audit))
			for i, a := range audit {
				gotAudit[i] = a.Seq
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || next != tc.wantNext {
				t.Errorf("accounting next=%d (-want +got):\n%s", next, diff)
			}
			if diff := cmp.Diff(tc.want, gotAudit); diff != "" || anext != tc.wantNext {
				t.Errorf("audit next=%d (-want +got):\n%s", anext, diff)
			}
		})
	}
	if recs, _ := s.Read().AccountingByJob(jobID(2)); len(recs) != 1 || recs[0].Seq != 3 {
		t.Errorf("AccountingByJob: %+v", recs)
	}
}

// TestFinishedJobIndexes: a finished job and its accounting record sit in
// no go-memdb index (each entry costs every replica about 360 bytes per
// job it keeps; docs/performance.md) but in the archive's trees their
// readers need.
func TestFinishedJobIndexes(t *testing.T) {
	s := jobsFixture(t) // job 1 completed on east
	write(t, s, 40, func(w *WriteTxn) error {
		_, err := w.CancelJob(&structs.JobCancel{ID: jobID(2), Time: t0, Account: true})
		return err
	})
	db := s.gen.Load().db
	in := func(tbl string, want func(any) bool) []string {
		var names []string
		for name := range db.DBSchema().Tables[tbl].Indexes {
			it, err := s.Read().txn.Get(tbl, name)
			if err != nil {
				t.Fatal(err)
			}
			for raw := it.Next(); raw != nil; raw = it.Next() {
				if want(raw) {
					names = append(names, name)
					break
				}
			}
		}
		slices.Sort(names)
		return names
	}
	ar := s.Read().ar
	trees := func(j *structs.Job) []string {
		var names []string
		if _, ok := ar.ids.Get(j); ok {
			names = append(names, "jobIDs")
		}
		for name, tr := range map[string]interface {
			Has(*structs.Job) bool
		}{"jobs": &ar.numbers, "tenant": &ar.tenants, "owner": &ar.owners, "ended": &ar.ended,
			"clusterMod": &ar.clusterMod, "prevMod": &ar.prevMod} {
			if tr.Has(j) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		return names
	}
	for _, id := range []string{jobID(1), jobID(2)} {
		if got := in(TableJobs, func(o any) bool { return o.(*structs.Job).ID == id }); got != nil {
			t.Errorf("finished job %s in the jobs table's indexes %v, want none (it is archived)", id, got)
		}
		j := ar.job(id)
		if j == nil {
			t.Fatalf("finished job %s not in the archive", id)
		}
		want := []string{"clusterMod", "ended", "jobIDs", "jobs", "owner", "tenant"}
		if diff := cmp.Diff(want, trees(j)); diff != "" {
			t.Errorf("finished job %s in archive trees (-want +got):\n%s", id, diff)
		}
	}
	got := in(TableAccounting, func(o any) bool { return o.(*structs.AccountingRecord).JobID == jobID(2) })
	if got != nil {
		t.Errorf("accounting record in the accounting table's indexes %v, want none (it is archived)", got)
	}
	rec := ar.rec("job-2")
	if rec == nil || !ar.recs.Has(rec) || !ar.recTenant.Has(rec) {
		t.Errorf("accounting record job-2 not in every archive tree: %+v", rec)
	}
	// A job in play sits in no go-memdb index either, but in the trees
	// of the jobs in play (live.go) its readers need.
	assigned := func(o any) bool { return o.(*structs.Job).ID == jobID(3) } // assigned to east
	if got := in(TableJobs, assigned); got != nil {
		t.Errorf("job in play in the jobs table's indexes %v, want none", got)
	}
	j := ar.live.job(jobID(3))
	if j == nil || ar.job(jobID(3)) != nil {
		t.Fatalf("assigned job: in play %v, finished %v", j, ar.job(jobID(3)))
	}
	var names []string
	for name, tr := range map[string]interface {
		Has(*structs.Job) bool
	}{"numbers": &ar.live.numbers, "tenants": &ar.live.tenants, "owners": &ar.live.owners,
		"clusterMod": &ar.live.clusterMod, "prevMod": &ar.live.prevMod, "active": &ar.live.active} {
		if tr.Has(j) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	want := []string{"active", "clusterMod", "numbers", "owners", "tenants"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("assigned job in trees (-want +got):\n%s", diff)
	}
}
