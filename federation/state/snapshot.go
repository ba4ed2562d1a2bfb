package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/flotilla-hpc/flotilla/federation/structs"
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

// Restore replaces the store's contents with a snapshot read from r. On
// error the store is unchanged. Blocked WaitForIndex calls re-check.
func (s *Store) Restore(r io.Reader) error {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return fmt.Errorf("state: restore: %w", err)
	}
	txn := db.Txn(true)
	defer txn.Abort()
	dec := json.NewDecoder(r)
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("state: restore header: %w", err)
	}
	if h.Format != snapshotFormat || h.Version < 1 || h.Version > snapshotVersion {
		return structs.Errorf(structs.ErrInvalid, "snapshot format %q version %d: this hub reads %q versions 1 to %d",
			h.Format, h.Version, snapshotFormat, snapshotVersion)
	}
	for {
		h = snapshotHeader{}
		if err := dec.Decode(&h); err != nil {
			return fmt.Errorf("state: restore section: %w", err)
		}
		if h.End {
			break
		}
		if h.Count < 0 {
			return structs.Errorf(structs.ErrInvalid, "snapshot table %q: count %d", h.Table, h.Count)
		}
		if err := restoreTable(dec, txn, h.Table, h.Count); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return structs.Errorf(structs.ErrInvalid, "snapshot: data after the end marker")
	}
	txn.Commit()
	s.swap(db)
	return nil
}

func restoreTable(dec *json.Decoder, txn *memdb.Txn, tbl string, n int) error {
	switch tbl {
	case tableMeta:
		return restoreRows[metaEntry](dec, txn, tbl, n)
	case TableTenants:
		return restoreRows[structs.Tenant](dec, txn, tbl, n)
	case TableTeams:
		return restoreRows[structs.Team](dec, txn, tbl, n)
	case TableUsers:
		return restoreRows[structs.User](dec, txn, tbl, n)
	case TableClusters:
		return restoreRows[structs.Cluster](dec, txn, tbl, n)
	case TableMachineTypes:
		return restoreRows[structs.MachineType](dec, txn, tbl, n)
	case TableVaults:
		return restoreRows[structs.Vault](dec, txn, tbl, n)
	case TableApps:
		return restoreRows[structs.App](dec, txn, tbl, n)
	case TableLimits:
		return restoreRows[structs.Limit](dec, txn, tbl, n)
	case TableBurstRules:
		return restoreRows[structs.BurstRule](dec, txn, tbl, n)
	case TableJobs:
		return restoreRows[structs.Job](dec, txn, tbl, n)
	case TableAccessRules:
		return restoreRows[structs.AccessRule](dec, txn, tbl, n)
	case TableReplicas:
		return restoreRows[structs.Replica](dec, txn, tbl, n)
	case TableCloud:
		return restoreRows[structs.CloudDeployment](dec, txn, tbl, n)
	case TableAccounting:
		return restoreRows[structs.AccountingRecord](dec, txn, tbl, n)
	case TableAudit:
		return restoreRows[structs.AuditEvent](dec, txn, tbl, n)
	case TableClaimRules:
		return restoreRows[structs.ClaimRule](dec, txn, tbl, n)
	case TableServiceAccounts:
		return restoreRows[structs.ServiceAccount](dec, txn, tbl, n)
	case TableEvents:
		return restoreRows[structs.JobEvent](dec, txn, tbl, n)
	case TableWebhookSettings:
		return restoreRows[structs.WebhookSettings](dec, txn, tbl, n)
	case TableSubscriptions:
		return restoreRows[structs.WebhookSubscription](dec, txn, tbl, n)
	case TableDeliveries:
		return restoreRows[structs.WebhookDelivery](dec, txn, tbl, n)
	case TableTriggers:
		return restoreRows[structs.Trigger](dec, txn, tbl, n)
	case TableVaultExports:
		return restoreRows[structs.VaultExport](dec, txn, tbl, n)
	}
	return structs.Errorf(structs.ErrInvalid,
		"snapshot table %q is unknown to this hub: a newer hub wrote the snapshot; restore it with that version or newer", tbl)
}

func restoreRows[T any](dec *json.Decoder, txn *memdb.Txn, tbl string, n int) error {
	for i := range n {
		v := new(T)
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("state: restore %s row %d: %w", tbl, i, err)
		}
		if err := txn.Insert(tbl, v); err != nil {
			return fmt.Errorf("state: restore %s row %d: %w", tbl, i, err)
		}
	}
	return nil
}
