package state

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/hashicorp/go-memdb"
)

// Snapshot format: newline-separated JSON values. A header
// {"format":"flotilla-state","version":1}; then per table, in a fixed order,
// {"table":NAME,"count":N} followed by N objects in id-index order (an
// empty table added after version 1 is left out, see omitWhenEmpty); then
// {"end":true}. encoding/json sorts map keys, so equal states give equal
// bytes.
const (
	snapshotFormat  = "flotilla-state"
	snapshotVersion = 1
)

type snapshotHeader struct {
	Format  string `json:"format,omitempty"`
	Version int    `json:"version,omitempty"`
	Table   string `json:"table,omitempty"`
	Count   int    `json:"count,omitempty"`
	End     bool   `json:"end,omitempty"`
}

// snapshotTables lists every table in snapshot order.
func snapshotTables() []string {
	names := tableNames()
	return append([]string{tableMeta}, names[:]...)
}

// omitWhenEmpty reports whether a table's section is left out of a
// snapshot while it has no rows: tables added after version 1 of the
// format, so that a state that does not use them snapshots to the same
// bytes as before and restores on replicas that predate them. Restore
// treats a missing section as an empty table.
func omitWhenEmpty(tbl string) bool {
	switch tbl {
	case TableReplicas, TableCloud, TableClaimRules, TableServiceAccounts, TableEvents, TableWebhookSettings, TableSubscriptions,
		TableDeliveries, TableTriggers, TableVaultExports:
		return true
	}
	return false
}

// Snapshot is an immutable point-in-time view of the store.
type Snapshot struct {
	txn *memdb.Txn
}

// Snapshot captures the current state in O(1); writes go on meanwhile.
func (s *Store) Snapshot() *Snapshot {
	return &Snapshot{txn: s.gen.Load().db.Txn(false)}
}

// Index returns the latest raft index the snapshot includes.
func (p *Snapshot) Index() uint64 { return (&ReadTxn{txn: p.txn}).Index(AllTables) }

// Persist writes the snapshot to w. Wrap slow writers in a bufio.Writer.
func (p *Snapshot) Persist(w io.Writer) error {
	return p.persist(w, func(string, any) bool { return true })
}

// persist writes the rows keep accepts in the snapshot format.
func (p *Snapshot) persist(w io.Writer, keep func(tbl string, row any) bool) error {
	enc := json.NewEncoder(w)
	if err := enc.Encode(snapshotHeader{Format: snapshotFormat, Version: snapshotVersion}); err != nil {
		return fmt.Errorf("state: snapshot: %w", err)
	}
	for _, tbl := range snapshotTables() {
		it, err := p.txn.Get(tbl, "id")
		if err != nil {
			return fmt.Errorf("state: snapshot %s: %w", tbl, err)
		}
		n := 0
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if keep(tbl, raw) {
				n++
			}
		}
		if n == 0 && (omitWhenEmpty(tbl) || !keep(tbl, nil)) {
			continue
		}
		if err := enc.Encode(snapshotHeader{Table: tbl, Count: n}); err != nil {
			return fmt.Errorf("state: snapshot %s: %w", tbl, err)
		}
		it, _ = p.txn.Get(tbl, "id")
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if !keep(tbl, raw) {
				continue
			}
			if err := enc.Encode(raw); err != nil {
				return fmt.Errorf("state: snapshot %s: %w", tbl, err)
			}
		}
	}
	if err := enc.Encode(snapshotHeader{End: true}); err != nil {
		return fmt.Errorf("state: snapshot: %w", err)
	}
	return nil
}
