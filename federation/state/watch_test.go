package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

type waitResult struct {
	index uint64
	err   error
}

// startWait runs WaitForIndex in a goroutine and returns its result channel.
func startWait(ctx context.Context, s *Store, table string, min uint64) <-chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		idx, err := s.WaitForIndex(ctx, table, min)
		ch <- waitResult{idx, err}
	}()
	return ch
}

func TestWaitForIndex(t *testing.T) {
	tests := map[string]struct {
		table   string
		min     uint64
		timeout time.Duration
		write   func(t *testing.T, s *Store) // after the waiter started
		want    uint64
		wantErr error
	}{
		"already past": {table: TableUsers, min: 1, timeout: 5 * time.Second, want: 2},
		"wakes on write to its table": {table: TableJobs, min: 3, timeout: 10 * time.Second,
			write: func(t *testing.T, s *Store) { submit(t, s, 8, "j", "acme", "alice", "n3") }, want: 8},
		"global wakes on any write": {table: AllTables, min: 3, timeout: 10 * time.Second,
			write: func(t *testing.T, s *Store) {
				write(t, s, 9, func(w *WriteTxn) error { return w.DeleteApp("solver") })
			}, want: 9},
		"other table does not wake it": {table: TableJobs, min: 0, timeout: 100 * time.Millisecond,
			write: func(t *testing.T, s *Store) {
				write(t, s, 9, func(w *WriteTxn) error { return w.DeleteApp("solver") })
			}, want: 0, wantErr: context.DeadlineExceeded},
		"deadline": {table: TableTenants, min: 1, timeout: 50 * time.Millisecond,
			want: 1, wantErr: context.DeadlineExceeded},
		"failed write does not wake it": {table: TableApps, min: 3, timeout: 100 * time.Millisecond,
			write: func(t *testing.T, s *Store) {
				w := s.Write(9)
				_ = w.DeleteApp("missing")
				_ = w.Commit()
			}, want: 3, wantErr: context.DeadlineExceeded},
		"wakes on restore": {table: TableTenants, min: 1, timeout: 10 * time.Second,
			write: func(t *testing.T, s *Store) {
				other := newStore(t)
				seed(t, other)
				write(t, other, 50, func(w *WriteTxn) error { return w.UpsertTenant(&structs.Tenant{Name: "gamma"}, structs.CAS{}) })
				if err := s.Restore(bytes.NewReader(persist(t, other))); err != nil {
					t.Fatal(err)
				}
			}, want: 50},
		"unknown table": {table: "nope", timeout: time.Second, wantErr: structs.ErrInvalid},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			seed(t, s)
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			ch := startWait(ctx, s, tc.table, tc.min)
			if tc.write != nil {
				tc.write(t, s)
			}
			select {
			case r := <-ch:
				if !errors.Is(r.err, tc.wantErr) || (tc.wantErr == nil && r.err != nil) {
					t.Errorf("error = %v, want %v", r.err, tc.wantErr)
				}
				if r.index != tc.want {
					t.Errorf("index = %d, want %d", r.index, tc.want)
				}
			case <-time.After(tc.timeout + 10*time.Second):
				t.Fatal("WaitForIndex ignored its context")
			}
		})
	}
}

// TestWaitForIndexManyWaiters checks that one commit wakes every waiter and
// that a waiter keeps blocking until the index passes its own minimum.
func TestWaitForIndexManyWaiters(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var chans []<-chan waitResult
	for range 20 {
		chans = append(chans, startWait(ctx, s, TableJobs, 0))
	}
	later := startWait(ctx, s, TableJobs, 10)
	submit(t, s, 10, "a", "acme", "alice", "n3")
	for _, ch := range chans {
		if r := <-ch; r.err != nil || r.index != 10 {
			t.Fatalf("waiter: %+v", r)
		}
	}
	submit(t, s, 11, "b", "acme", "alice", "n3")
	if r := <-later; r.err != nil || r.index != 11 {
		t.Fatalf("later waiter: %+v", r)
	}
}

// closed reports whether a watch channel was closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestWatchWakesExactly: the store's own watch channels (watch.go) are
// closed by exactly the commits that bump their index: a submission's
// commit closes the jobs', the events' and the store's, not the audit
// trail's nor the apps'; an aborted transaction and a commit that wrote
// nothing close none; a write to an app closes the apps' and the store's;
// a restore closes every one. A channel taken after a close is a new one.
func TestWatchWakesExactly(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	watched := []string{TableJobs, TableEvents, TableAudit, TableApps, TableTenants, AllTables}
	take := func() map[string]<-chan struct{} {
		chans := map[string]<-chan struct{}{}
		for _, name := range watched {
			k, _ := metaKeyOf(name)
			chans[name] = s.watchChan(k)
		}
		return chans
	}
	check := func(step string, chans map[string]<-chan struct{}, want ...string) {
		t.Helper()
		for _, name := range watched {
			if got, w := closed(chans[name]), slices.Contains(want, name); got != w {
				t.Errorf("%s: %s's channel closed = %v, want %v", step, name, got, w)
			}
		}
	}

	before := s.Index(AllTables)
	chans := take()
	w := s.Write(10)
	if _, err := w.SubmitJob(&structs.Job{ID: "a", Tenant: "acme", Owner: "alice", App: "solver", MachineType: "n3", Nodes: 1, SubmitTime: t0}); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	check("aborted submission", chans)
	w = s.Write(10)
	_ = w.DeleteApp("missing")
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	check("commit that wrote nothing", chans)
	if got := s.Index(AllTables); got != before {
		t.Fatalf("a commit that wrote nothing moved the store's index to %d", got)
	}

	submit(t, s, 11, "a", "acme", "alice", "n3")
	check("submission", chans, TableJobs, TableEvents, AllTables)
	again := take()
	for _, name := range []string{TableJobs, TableEvents, AllTables} {
		if again[name] == chans[name] || closed(again[name]) {
			t.Errorf("%s: the channel taken after the close is the closed one", name)
		}
	}
	check("channels taken after the submission", again)

	write(t, s, 12, func(w *WriteTxn) error { return w.DeleteApp("solver") })
	check("app deleted", again, TableApps, AllTables)
	if got := s.Index(TableApps); got != 12 {
		t.Fatalf("apps index %d, want 12", got)
	}

	last := take()
	other := newStore(t)
	seed(t, other)
	if err := s.Restore(bytes.NewReader(persist(t, other))); err != nil {
		t.Fatal(err)
	}
	check("restore", last, watched...)
}

// TestWatchNoMissedWake: waiters that each wait for the next change of
// the jobs' index, beside a writer committing submissions (some aborted,
// some beside writes to other tables), see every commit's index in
// order and none is left asleep after the last (a missed wake-up would
// leave one blocked until the deadline); each woken waiter's view holds
// the submissions its index says. Run with -race.
func TestWatchNoMissedWake(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	const commits = 300
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			var idx uint64 = 1
			for idx < 1+commits {
				got, err := s.WaitForIndex(ctx, TableJobs, idx)
				if err != nil {
					errs <- fmt.Errorf("waiting past %d: %w", idx, err)
					return
				}
				if got <= idx {
					errs <- fmt.Errorf("woke at %d waiting past %d", got, idx)
					return
				}
				r := s.Read()
				jobs, _, err := r.ListJobs(JobFilter{})
				if seen := r.Index(TableJobs); err != nil || seen < got || len(jobs) != int(seen-1) {
					errs <- fmt.Errorf("woken at %d: a view at jobs index %d holds %d jobs (%v)", got, seen, len(jobs), err)
					return
				}
				idx = got
			}
			errs <- nil
		}()
	}
	for i := uint64(2); i <= 1+commits; i++ {
		if i%7 == 0 {
			w := s.Write(i)
			_, _ = w.SubmitJob(&structs.Job{ID: "aborted", Tenant: "acme", Owner: "alice", App: "solver", MachineType: "n3", Nodes: 1, SubmitTime: t0})
			w.Abort()
		}
		write(t, s, i, func(w *WriteTxn) error {
			_, err := w.SubmitJob(&structs.Job{ID: fmt.Sprintf("j%04d", i), Tenant: "acme", Owner: "alice", App: "solver",
				MachineType: "n3", Nodes: 1, SubmitTime: t0})
			if err == nil && i%5 == 0 {
				err = w.UpsertTenant(&structs.Tenant{Name: fmt.Sprintf("t%d", i)}, structs.CAS{})
			}
			return err
		})
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
