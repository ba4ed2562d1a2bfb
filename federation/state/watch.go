package state

import (
	"context"

	"github.com/hashicorp/go-memdb"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// WaitForIndex blocks until the modify index of table (or AllTables) is
// above minIndex, then returns it. It wakes on the commit that bumps the
// index (memdb watch channels, no polling) and on Restore. When ctx ends
// first it returns the current index and ctx's error.
func (s *Store) WaitForIndex(ctx context.Context, table string, minIndex uint64) (uint64, error) {
	if !validTable(table) {
		return 0, structs.Errorf(structs.ErrInvalid, "table %q", table)
	}
	for {
		gen := s.gen.Load()
		watch, raw, err := gen.db.Txn(false).FirstWatch(tableMeta, "id", table)
		if err != nil {
			return 0, err
		}
		var idx uint64
		if raw != nil {
			idx = raw.(*metaEntry).Value
		}
		if idx > minIndex {
			return idx, nil
		}
		select {
		case <-watch:
		case <-gen.abandon:
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
	for _, t := range tables {
		if !validTable(t) {
			return 0, structs.Errorf(structs.ErrInvalid, "table %q", t)
		}
	}
	for {
		gen := s.gen.Load()
		txn := gen.db.Txn(false)
		ws := memdb.NewWatchSet()
		ws.Add(gen.abandon)
		var idx uint64
		for _, t := range tables {
			watch, raw, err := txn.FirstWatch(tableMeta, "id", t)
			if err != nil {
				return 0, err
			}
			ws.Add(watch)
			if raw != nil {
				idx = max(idx, raw.(*metaEntry).Value)
			}
		}
		if idx > minIndex {
			return idx, nil
		}
		if err := ws.WatchCtx(ctx); err != nil {
			return idx, err
		}
	}
}
