package state

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hashicorp/go-memdb"

	"github.com/flotilla-hpc/flotilla/federation/structs"
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
	ar  *archive
}

// Snapshot captures the current state in O(1); writes go on meanwhile.
func (s *Store) Snapshot() *Snapshot {
	r := s.Read()
	return &Snapshot{txn: r.txn, ar: r.ar}
}

// Index returns the latest raft index the snapshot includes.
func (p *Snapshot) Index() uint64 { return (&ReadTxn{txn: p.txn, ar: p.ar}).Index(AllTables) }

// eachRow calls fn on every row of a table in id-index order, until fn
// returns false. The jobs, the accounting records, the audit events and
// the job events come from the archive (live.go, archive.go,
// history.go): a snapshot holds them in the jobs, accounting, audit and
// events sections, in the order and form it always did.
func (p *Snapshot) eachRow(tbl string, fn func(row any) bool) error {
	switch tbl {
	case TableAccounting:
		p.ar.recIDs.Ascend(func(r *structs.AccountingRecord) bool { return fn(r) })
		return nil
	case TableAudit:
		p.ar.auditIDs.Ascend(func(e *structs.AuditEvent) bool { return fn(e) })
		return nil
	case TableEvents:
		p.ar.eachEvent(0, func(e *structs.JobEvent) bool { return fn(e) })
		return nil
	case TableJobs:
		p.eachJob(fn)
		return nil
	case tableMeta:
		return p.eachMeta(fn)
	}
	it, err := p.txn.Get(tbl, "id")
	if err != nil {
		return fmt.Errorf("state: snapshot %s: %w", tbl, err)
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if !fn(raw) {
			return nil
		}
	}
	return nil
}

// eachMeta calls fn on every row of the meta section in key order: the
// modify indexes and the event log's pruned index (indexes.go) and a row
// per sequence that has handed out a value, all kept in the archive
// (archive.go), as the meta table kept them.
func (p *Snapshot) eachMeta(fn func(row any) bool) error {
	rows := p.ar.meta.rows()
	for _, c := range countersByName() {
		if v := p.ar.seqs[c]; v != 0 {
			rows = append(rows, &metaEntry{Key: c.name(), Value: v})
		}
	}
	slices.SortFunc(rows, func(a, b *metaEntry) int { return strings.Compare(a.Key, b.Key) })
	for _, m := range rows {
		if !fn(m) {
			return nil
		}
	}
	return nil
}

// eachJob calls fn on every job, in play (live.go) and finished
// (archive.go), in ID order, until fn returns false: the two trees by ID,
// merged (the jobs in play, far fewer than the finished ones a hub keeps,
// listed first).
func (p *Snapshot) eachJob(fn func(row any) bool) {
	live := make([]*structs.Job, 0, p.ar.live.ids.Len())
	p.ar.live.ids.Ascend(func(j *structs.Job) bool {
		live = append(live, j)
		return true
	})
	more := true
	p.ar.ids.Ascend(func(e *structs.Job) bool {
		for len(live) > 0 && live[0].ID < e.ID {
			if more = fn(live[0]); !more {
				return false
			}
			live = live[1:]
		}
		more = fn(e)
		return more
	})
	for ; more && len(live) > 0; live = live[1:] {
		more = fn(live[0])
	}
}

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
		n := 0
		if err := p.eachRow(tbl, func(raw any) bool {
			if keep(tbl, raw) {
				n++
			}
			return true
		}); err != nil {
			return err
		}
		if n == 0 && (omitWhenEmpty(tbl) || !keep(tbl, nil)) {
			continue
		}
		if err := enc.Encode(snapshotHeader{Table: tbl, Count: n}); err != nil {
			return fmt.Errorf("state: snapshot %s: %w", tbl, err)
		}
		var encErr error
		if err := p.eachRow(tbl, func(raw any) bool {
			if keep(tbl, raw) {
				encErr = enc.Encode(raw)
			}
			return encErr == nil
		}); err != nil {
			return err
		}
		if encErr != nil {
			return fmt.Errorf("state: snapshot %s: %w", tbl, encErr)
		}
	}
	if err := enc.Encode(snapshotHeader{End: true}); err != nil {
		return fmt.Errorf("state: snapshot: %w", err)
	}
	return nil
}
