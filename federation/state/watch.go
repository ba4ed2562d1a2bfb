package state

import (
	"context"

	"github.com/hashicorp/go-memdb"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Blocking queries wait on the store's own watch channels: one per table
// and one for the store as a whole (metaKey below numWatch). A waiter
// takes the channel of each index it waits on (made then if no one waits
// on it yet), then reads the indexes from a view of the store; the commit
// that bumps an index publishes its view first and then closes the
// index's channel and forgets it, so a waiter either took the channel
// before the close (and wakes) or read the new index. A commit that does
// not bump an index leaves its waiters asleep; an aborted transaction
// wakes no one; Restore wakes everyone, to read the restored indexes.

// watchChan is the channel the next commit that bumps index k closes.
func (s *Store) watchChan(k metaKey) <-chan struct{} {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	ch := s.watch[k]
	if ch == nil {
		ch = make(chan struct{})
		s.watch[k] = ch
	}
	return ch
}

// wake closes the watch channels of the indexes in bumped (a bit per
// metaKey; those at or past numWatch are not watched).
func (s *Store) wake(bumped uint32) {
	bumped &= 1<<numWatch - 1
	if bumped == 0 {
		return
	}
	s.watchMu.Lock()
	for k := range s.watch {
		if bumped&(1<<k) != 0 && s.watch[k] != nil {
			close(s.watch[k])
			s.watch[k] = nil
		}
	}
	s.watchMu.Unlock()
}

// WaitForIndex blocks until the modify index of table (or AllTables) is
// above minIndex, then returns it. It wakes on the commit that bumps the
// index (no polling) and on Restore. When ctx ends first it returns the
// current index and ctx's error.
func (s *Store) WaitForIndex(ctx context.Context, table string, minIndex uint64) (uint64, error) {
	k, ok := metaKeyOf(table)
	if !ok {
		return 0, structs.Errorf(structs.ErrInvalid, "table %q", table)
	}
	for {
		watch := s.watchChan(k)
		idx := s.Read().ar.meta.get(k)
		if idx > minIndex {
			return idx, nil
		}
		select {
		case <-watch:
		case <-ctx.Done():
			return idx, ctx.Err()
		}
	}
}

// WaitForAny blocks until the modify index of any of tables (or AllTables)
// is above minIndex, then returns the highest of them. It wakes on the
// commit that bumps one (no polling) and on Restore. When ctx ends first
// it returns the current highest index and ctx's error.
func (s *Store) WaitForAny(ctx context.Context, minIndex uint64, tables ...string) (uint64, error) {
	if len(tables) == 0 {
		return 0, structs.Errorf(structs.ErrInvalid, "no table to wait for")
	}
	keys := make([]metaKey, len(tables))
	for i, t := range tables {
		k, ok := metaKeyOf(t)
		if !ok {
			return 0, structs.Errorf(structs.ErrInvalid, "table %q", t)
		}
		keys[i] = k
	}
	for {
		ws := memdb.NewWatchSet()
		for _, k := range keys {
			ws.Add(s.watchChan(k))
		}
		meta := &s.Read().ar.meta
		var idx uint64
		for _, k := range keys {
			idx = max(idx, meta.get(k))
		}
		if idx > minIndex {
			return idx, nil
		}
		if err := ws.WatchCtx(ctx); err != nil {
			return idx, err
		}
	}
}
