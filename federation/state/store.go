// Package state is the hub's in-memory indexed store: tenants, teams, users,
// clusters, machine types, vaults, apps, limits, burst rules, jobs,
// accounting, audit, the portal's claim rules and the hub's own replica
// directory, kept in go-memdb tables with the indexes the hub queries by;
// what every submission writes or what grows with the hub's history — the
// jobs in play and the finished ones, accounting records, the audit trail
// and the job event log — in an archive of copy-on-write B-trees beside
// them (live.go, archive.go, history.go), which readers see in the same
// view as the tables.
//
// Writes happen in a WriteTxn stamped with a raft index; committing it
// records that index as the modify index of every table it touched and of
// the store as a whole, which WaitForIndex watches for blocking queries,
// and bumps a change counter per table it wrote (Changes: an atomic load,
// for caches of values derived from a table, such as the API's verified
// keys and admission's access rules).
// Reads happen in a ReadTxn (a consistent, immutable view) and return deep
// copies, so callers can never change the store. Snapshot and Restore write
// and read a deterministic serialization: equal states give equal bytes.
//
// The package knows nothing of raft or HTTP; the fsm package drives it.
package state

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-memdb"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Table names, for Index and WaitForIndex.
const (
	TableTenants      = "tenants"
	TableTeams        = "teams"
	TableUsers        = "users"
	TableClusters     = "clusters"
	TableMachineTypes = "machine_types"
	TableVaults       = "vaults"
	TableApps         = "apps"
	TableLimits       = "limits"
	TableBurstRules   = "burst_rules"
	TableJobs         = "jobs"
	TableAccounting   = "accounting"
	TableAudit        = "audit"
	TableAccessRules  = "access_rules"
	TableReplicas     = "replicas"
	TableCloud        = "cloud_deployments"
	TableClaimRules   = "claim_rules"

	TableServiceAccounts = "service_accounts"
	TableEvents          = "events"
	TableWebhookSettings = "webhook_settings"
	TableSubscriptions   = "webhook_subscriptions"
	TableDeliveries      = "webhook_deliveries"
	TableTriggers        = "triggers"
	TableVaultExports    = "vault_exports"

	// AllTables names the store as a whole: its index is the latest write
	// to any table.
	AllTables = "*"
)

// tableMeta names a snapshot's meta section: the modify indexes (keyed by
// table name or AllTables), which watchers wait on, the event log's
// pruned index and the sequences, all kept in the archive (indexes.go,
// archive.go) and written in key order (snapshot.go), as the go-memdb
// table that once held them kept them.
const tableMeta = "meta"

// table numbers the data tables, in snapshot order.
type table uint8

const (
	tTenants table = iota
	tTeams
	tUsers
	tClusters
	tMachineTypes
	tVaults
	tApps
	tLimits
	tBurstRules
	tJobs
	tAccounting
	tAudit
	tAccessRules
	tReplicas
	tCloud
	tClaimRules
	tServiceAccounts
	tEvents
	tWebhookSettings
	tSubscriptions
	tDeliveries
	tTriggers
	tVaultExports
	numTables
)

func tableNames() [numTables]string {
	return [numTables]string{TableTenants, TableTeams, TableUsers, TableClusters,
		TableMachineTypes, TableVaults, TableApps, TableLimits, TableBurstRules,
		TableJobs, TableAccounting, TableAudit, TableAccessRules, TableReplicas, TableCloud, TableClaimRules,
		TableServiceAccounts, TableEvents, TableWebhookSettings, TableSubscriptions, TableDeliveries,
		TableTriggers, TableVaultExports}
}

func (t table) name() string { return tableNames()[t] }

// counter numbers the sequences the store hands out.
type counter uint8

const (
	cJobs counter = iota
	cAccounting
	cAudit
	cEvents
	cDeliveries
	numCounters
)

func (c counter) name() string {
	return [numCounters]string{"seq:job_number", "seq:accounting", "seq:audit", "seq:events", "seq:deliveries"}[c]
}

// countersByName lists the counters in the order of their names.
func countersByName() [numCounters]counter {
	return [numCounters]counter{cAccounting, cAudit, cDeliveries, cEvents, cJobs}
}

// counterNamed is the counter whose meta row key is name.
func counterNamed(name string) (counter, bool) {
	for c := range numCounters {
		if c.name() == name {
			return c, true
		}
	}
	return 0, false
}

// metaEntry is a row of a snapshot's meta section: the raft index of the
// latest write to a table (or to AllTables), the event log's pruned
// index, or the last value a counter handed out.
type metaEntry struct {
	Key   string `json:"key"`
	Value uint64 `json:"value"`
}

// generation is one memdb instance; Restore replaces it (and wakes every
// waiter, watch.go).
type generation struct {
	db *memdb.MemDB
}

// Store is the in-memory state. It is safe for concurrent use; writers are
// serialized by memdb.
type Store struct {
	gen atomic.Pointer[generation]
	// changes counts, per table, the commits that wrote it and the
	// restores, each bumped once the write is visible (see Changes).
	changes [numTables]atomic.Uint64

	// pub pairs the memdb root and the archive a reader sees: a commit
	// that changes the archive publishes both under it (archive.go).
	pub sync.RWMutex
	ar  *archive // the published archive, never written (under pub)
	// txnGen hands out the write transactions' generations (cow.go),
	// from 1 on. Two transactions are open at once only across a restore
	// (each on its own memdb), hence the atomic.
	txnGen atomic.Uint64

	// watchMu guards watch: per table and for the store as a whole
	// (metaKey), the channel a commit that bumps its modify index
	// closes, made by the first waiter after the last close (watch.go).
	watchMu sync.Mutex
	watch   [numWatch]chan struct{}

	// admit is what submissions read from go-memdb, kept from one write
	// transaction to the next (store_txnreads.go); nil: nothing yet.
	admit atomic.Pointer[admitCache]
}

// New returns an empty store.
func New() (*Store, error) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, fmt.Errorf("state: schema: %w", err)
	}
	s := &Store{ar: newArchive()}
	s.gen.Store(&generation{db: db})
	return s, nil
}

// swap installs db and ar as the store's contents and wakes waiters of
// the old ones.
func (s *Store) swap(db *memdb.MemDB, ar *archive) {
	s.pub.Lock()
	s.gen.Store(&generation{db: db})
	s.ar = ar
	s.admit.Store(nil)
	s.pub.Unlock()
	for t := range s.changes {
		s.changes[t].Add(1)
	}
	s.wake(1<<numWatch - 1)
}

// Changes returns a counter of the changes to a data table: commits that
// wrote it and restores of the store. It is an atomic load, for caches of
// values derived from a table: read it before opening the ReadTxn the
// value is derived from; while it returns the same number, that value is
// current (a commit bumps it only once its writes are visible). 0 for an
// unknown table.
func (s *Store) Changes(table string) uint64 {
	for t, n := range tableNames() {
		if n == table {
			return s.changes[t].Load()
		}
	}
	return 0
}

// ReadTxn is a consistent view of the store. Its getters return deep copies.
type ReadTxn struct {
	txn *memdb.Txn
	ar  *archive // finished jobs and accounting records (archive.go)
}

// Read opens a read transaction; it needs no closing.
func (s *Store) Read() *ReadTxn {
	s.pub.RLock()
	r := &ReadTxn{txn: s.gen.Load().db.Txn(false), ar: s.ar}
	s.pub.RUnlock()
	return r
}

// Index returns the modify index of a table (or AllTables), 0 if never written.
func (r *ReadTxn) Index(table string) uint64 {
	k, ok := metaKeyOf(table)
	if !ok {
		return 0
	}
	return r.ar.meta.get(k)
}

// Index returns the current modify index of a table (or AllTables).
func (s *Store) Index(table string) uint64 { return s.Read().Index(table) }

// LatestIndex returns the raft index of the latest write to the store.
func (s *Store) LatestIndex() uint64 { return s.Index(AllTables) }

// WriteTxn is a write transaction at one raft index. Exactly one may be
// open at a time; it must be committed or aborted. Its getters see its own
// writes. Write methods validate fully before changing anything, so a
// failed call leaves the transaction as it was.
type WriteTxn struct {
	ReadTxn
	store    *Store
	index    uint64
	touched  uint32                                    // bit per table (numTables <= 32)
	inserted structs.RaftIndex                         // of the object inserted last, see Inserted
	arGen    uint64                                    // the transaction's generation (cow.go)
	arOwn    bool                                      // ReadTxn.ar is the transaction's own copy of the archive struct
	arDirty  uint8                                     // bit per part of ReadTxn.ar that is this transaction's own copy (archive.go)
	subs     map[string][]*structs.WebhookSubscription // by tenant, read from base
	found    map[refKey]struct{}                       // rows mustExistCached found
	admit    *admitCache                               // the store's, if read from the transaction's memdb (nil: none)
	gen      *generation                               // the memdb generation the transaction writes
	// pruned is the raft index of the newest event the transaction
	// dropped from the bounded log, written to the meta rows at commit
	// (0: none; see EventsPrunedIndex).
	pruned uint64
	bumped uint32 // bit per meta row set to the transaction's index at commit, beyond the tables it touched (bump)
}

// Write opens a write transaction whose writes are stamped with index.
// Indexes must increase from one committed transaction to the next.
func (s *Store) Write(index uint64) *WriteTxn {
	g := s.gen.Load()
	txn := g.db.Txn(true) // takes the writer's lock: no commit comes between
	s.pub.RLock()
	ar := s.ar
	s.pub.RUnlock()
	w := &WriteTxn{ReadTxn: ReadTxn{txn: txn, ar: ar}, store: s, index: index, arGen: s.txnGen.Add(1), gen: g}
	if c := s.admit.Load(); c != nil && c.gen == g {
		w.admit = c
	}
	return w
}

// archiveW is the transaction's own archive with part p to change: the
// published archive with its own copy of that part, made at its first
// change, whose trees it clones as it writes them (cow.go); the other
// parts and trees stay shared with readers until the transaction writes
// them too.
func (w *WriteTxn) archiveW(p part) *archive {
	if w.arDirty&(1<<p) == 0 {
		w.ownArchive().own(p, w.arGen)
		w.arDirty |= 1 << p
	}
	return w.ar
}

// ownArchive is the transaction's own copy of the archive struct, made
// at its first change (its parts still the published ones).
func (w *WriteTxn) ownArchive() *archive {
	if !w.arOwn {
		own := *w.ar
		w.ar, w.arOwn = &own, true
	}
	return w.ar
}

// RaftIndex returns the index the transaction stamps.
func (w *WriteTxn) RaftIndex() uint64 { return w.index }

func (w *WriteTxn) touch(t table) { w.touched |= 1 << t }

// next hands out the next value of a sequence. The sequences are kept
// in the archive (archive.go), published with it at commit.
func (w *WriteTxn) next(c counter) uint64 {
	ar := w.ownArchive()
	ar.seqs[c]++
	return ar.seqs[c]
}

// bump has the commit set meta row k to the transaction's index.
func (w *WriteTxn) bump(k metaKey) { w.bumped |= 1 << k }

// Commit records modify indexes and makes the writes visible. The modify
// indexes (of every table it touched and of the store) are set in the
// transaction's copy of the archive struct, published with the memdb
// root; then the watch channels of the indexes it set are closed
// (watch.go), so a woken waiter reads the new index.
func (w *WriteTxn) Commit() error {
	if w.txn == nil {
		return nil
	}
	defer func() { w.txn = nil }()
	bumped := w.bumped | w.touched
	if w.touched != 0 {
		bumped |= 1 << metaAll
	}
	if bumped != 0 || w.pruned != 0 {
		m := &w.ownArchive().meta
		for k := range metaAll + 1 {
			if bumped&(1<<k) != 0 {
				m.put(k, w.index)
			}
		}
		if w.pruned != 0 {
			m.put(metaPruned, w.pruned)
		}
	}
	w.keepAdmitted()
	if w.arOwn {
		w.store.pub.Lock()
		w.txn.Commit()
		w.store.ar = w.ar
		w.store.pub.Unlock()
	} else {
		w.txn.Commit()
	}
	for t := range numTables {
		if w.touched&(1<<t) != 0 {
			w.store.changes[t].Add(1)
		}
	}
	w.store.wake(bumped)
	return nil
}

// Abort drops the transaction's writes. It is a no-op after Commit.
func (w *WriteTxn) Abort() {
	if w.txn != nil {
		w.txn.Abort()
		w.txn = nil
	}
}
