package state

import (
	"context"

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
