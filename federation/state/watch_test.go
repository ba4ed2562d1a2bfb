package state

import (
	"bytes"
	"context"
	"errors"
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
