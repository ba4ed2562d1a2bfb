package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/hashicorp/go-memdb"
)

// restoreBatch is how many decoded rows go to the inserting goroutine at
// a time.
const restoreBatch = 512

// restoreRow is one decoded snapshot row and its table.
type restoreRow struct {
	tbl string
	row any
}

// Restore replaces the store's contents with a snapshot read from r. On
// error the store is unchanged. Blocked WaitForIndex calls re-check.
//
// One goroutine decodes the rows (JSON) while this one inserts them into a
// single write transaction, in the snapshot's order: restoring costs about
// as much in decoding as in inserting, so two cores take about half the
// time. Strings that repeat from row to row (tenant, owner, app, machine
// type, cluster, state...) are kept once (restoreInterner).
func (s *Store) Restore(r io.Reader) error {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return fmt.Errorf("state: restore: %w", err)
	}
	txn := db.Txn(true)
	defer txn.Abort()
	ar := newArchive()
	batches := make(chan []restoreRow, 4)
	stop := make(chan struct{})
	decoded := make(chan error, 1)
	go func() {
		defer close(batches)
		decoded <- decodeSnapshot(r, batches, stop)
	}()
	counts := map[string]int{}
	for batch := range batches {
		for _, row := range batch {
			if restoreArchived(ar, row) {
				counts[row.tbl]++
				continue
			}
			if err := txn.Insert(row.tbl, row.row); err != nil {
				close(stop)
				for range batches { // let the decoder end
				}
				return fmt.Errorf("state: restore %s row %d: %w", row.tbl, counts[row.tbl], err)
			}
			counts[row.tbl]++
		}
	}
	if err := <-decoded; err != nil {
		return err
	}
	txn.Commit()
	s.swap(db, ar)
	return nil
}

// restoreArchived puts a job, an accounting record, an audit event, a
// job event or a sequence's meta row into the archive (live.go,
// archive.go, history.go) and reports whether it did: a snapshot keeps them in the jobs, accounting,
// audit and events sections, as it always did.
func restoreArchived(ar *archive, row restoreRow) bool {
	switch o := row.row.(type) {
	case *structs.Job:
		if o.State.IsTerminal() {
			ar.addJob(o)
		} else {
			ar.live.put(o, nil)
		}
		return true
	case *structs.AccountingRecord:
		ar.addRec(o)
		return true
	case *structs.AuditEvent:
		ar.addAudit(o)
		return true
	case *structs.JobEvent:
		ar.addEvent(o)
		return true
	case *metaEntry:
		if c, ok := counterNamed(o.Key); ok {
			ar.seqs[c] = o.Value
		} else {
			ar.meta.restore(o)
		}
		return true
	}
	return false
}

// decodeSnapshot reads a snapshot and sends its rows to out in batches,
// until the end marker, an error, or stop closes.
func decodeSnapshot(r io.Reader, out chan<- []restoreRow, stop <-chan struct{}) error {
	dec := json.NewDecoder(r)
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("state: restore header: %w", err)
	}
	if h.Format != snapshotFormat || h.Version < 1 || h.Version > snapshotVersion {
		return structs.Errorf(structs.ErrInvalid, "snapshot format %q version %d: this hub reads %q versions 1 to %d",
			h.Format, h.Version, snapshotFormat, snapshotVersion)
	}
	in := newRestoreInterner()
	batch := make([]restoreRow, 0, restoreBatch)
	send := func() bool {
		if len(batch) == 0 {
			return true
		}
		select {
		case out <- batch:
			batch = make([]restoreRow, 0, restoreBatch)
			return true
		case <-stop:
			return false
		}
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
		newRow, err := rowOf(h.Table)
		if err != nil {
			return err
		}
		for i := range h.Count {
			v := newRow()
			if err := dec.Decode(v); err != nil {
				return fmt.Errorf("state: restore %s row %d: %w", h.Table, i, err)
			}
			in.intern(v)
			batch = append(batch, restoreRow{tbl: h.Table, row: v})
			if len(batch) == restoreBatch && !send() {
				return nil
			}
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return structs.Errorf(structs.ErrInvalid, "snapshot: data after the end marker")
	}
	send()
	return nil
}

// rowOf returns the constructor of a table's rows.
func rowOf(tbl string) (func() any, error) {
	switch tbl {
	case tableMeta:
		return func() any { return new(metaEntry) }, nil
	case TableTenants:
		return func() any { return new(structs.Tenant) }, nil
	case TableTeams:
		return func() any { return new(structs.Team) }, nil
	case TableUsers:
		return func() any { return new(structs.User) }, nil
	case TableClusters:
		return func() any { return new(structs.Cluster) }, nil
	case TableMachineTypes:
		return func() any { return new(structs.MachineType) }, nil
	case TableVaults:
		return func() any { return new(structs.Vault) }, nil
	case TableApps:
		return func() any { return new(structs.App) }, nil
	case TableLimits:
		return func() any { return new(structs.Limit) }, nil
	case TableBurstRules:
		return func() any { return new(structs.BurstRule) }, nil
	case TableJobs:
		return func() any { return new(structs.Job) }, nil
	case TableAccessRules:
		return func() any { return new(structs.AccessRule) }, nil
	case TableReplicas:
		return func() any { return new(structs.Replica) }, nil
	case TableCloud:
		return func() any { return new(structs.CloudDeployment) }, nil
	case TableAccounting:
		return func() any { return new(structs.AccountingRecord) }, nil
	case TableAudit:
		return func() any { return new(structs.AuditEvent) }, nil
	case TableClaimRules:
		return func() any { return new(structs.ClaimRule) }, nil
	case TableServiceAccounts:
		return func() any { return new(structs.ServiceAccount) }, nil
	case TableEvents:
		return func() any { return new(structs.JobEvent) }, nil
	case TableWebhookSettings:
		return func() any { return new(structs.WebhookSettings) }, nil
	case TableSubscriptions:
		return func() any { return new(structs.WebhookSubscription) }, nil
	case TableDeliveries:
		return func() any { return new(structs.WebhookDelivery) }, nil
	case TableTriggers:
		return func() any { return new(structs.Trigger) }, nil
	case TableVaultExports:
		return func() any { return new(structs.VaultExport) }, nil
	}
	return nil, structs.Errorf(structs.ErrInvalid,
		"snapshot table %q is unknown to this hub: a newer hub wrote the snapshot; restore it with that version or newer", tbl)
}

// internMax is the longest string restoreInterner keeps once.
const internMax = 64

// restoreInterner keeps one copy of the short strings many rows of a
// snapshot repeat; decoding gives every row its own.
type restoreInterner map[string]string

func newRestoreInterner() restoreInterner { return restoreInterner{} }

func (in restoreInterner) s(p *string) {
	v := *p
	if v == "" || len(v) > internMax {
		return
	}
	if c, ok := in[v]; ok {
		*p = c
		return
	}
	in[v] = v
}

// intern replaces the repeated strings of the rows that grow with the
// hub's history (jobs, accounting records, audit events, job events) by
// shared ones.
func (in restoreInterner) intern(row any) {
	switch o := row.(type) {
	case *structs.Job:
		for _, p := range [...]*string{&o.Tenant, &o.Team, &o.Owner, &o.App, &o.Command, &o.MachineType,
			&o.Project, &o.Vault, &o.Substatus, &o.Cluster, &o.PreviousCluster, &o.AssignedMachineType,
			&o.BurstRule, &o.Trigger, &o.CallbackURL, &o.Label} {
			in.s(p)
		}
		in.s((*string)(&o.State))
		in.s((*string)(&o.Priority))
	case *structs.AccountingRecord:
		for _, p := range [...]*string{&o.Tenant, &o.Team, &o.User, &o.App, &o.MachineType, &o.Cluster,
			&o.Project, &o.Command, &o.BurstRule} {
			in.s(p)
		}
		in.s((*string)(&o.State))
	case *structs.AuditEvent:
		for _, p := range [...]*string{&o.Actor, &o.Tenant, &o.Action, &o.ObjectKind, &o.Outcome, &o.Source} {
			in.s(p)
		}
	case *structs.JobEvent:
		for _, p := range [...]*string{&o.Tenant, &o.Team, &o.Owner, &o.App, &o.Trigger} {
			in.s(p)
		}
		in.s((*string)(&o.State))
		in.s((*string)(&o.Previous))
	}
}
