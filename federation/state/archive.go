package state

import (
	"cmp"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The archive holds the hub's history outside go-memdb: the finished jobs,
// every accounting record, the audit trail and the job event log
// (history.go). All grow with the hub's history (a million finished jobs
// is a normal hub; every submission appends an audit event and a job
// event), are never changed once written (a finished job is final; a
// record or an event is appended once) and leave only by purge. In
// go-memdb every index entry of a row costs about 360 bytes (radix node,
// leaf, two watch channels, key) and an insert copies its radix path with
// a watch channel per node; here an entry is a pointer (or a small key
// and a pointer) in a B-tree node, and there are no watch channels:
// nothing blocks on one finished job or event (blocking queries wait on a
// table's modify index, indexes.go and watch.go).
//
// A job moves here in the FSM apply that ends it (WriteTxn.insert), on
// every replica alike. Readers see the archive and the memdb tables of one
// commit (Store.pub); a write transaction changes lazy copy-on-write
// versions (cow.go, ptree.go) of the trees it writes, one per tree and
// transaction (cow.go), which its commit publishes and its abort drops,
// so a failed command leaves the archive as it was.

// archiveDegree is the B-trees' degree (ptree.go): nodes of 15 to 31
// entries. A write copies the nodes on its path whole, so a node's size is
// what a path copy costs in bytes: at 32 (nodes of 31 to 63) an entry of
// 22 audited submissions copied 7.5 KB more, a state update 2.6 KB more,
// for 10 allocations fewer per entry.
const archiveDegree = 16

// archive is the finished jobs, the accounting records, the audit trail,
// the job events and the jobs in play (live.go), each kept once (the
// stored objects, never changed in place) under the orders their readers
// need. A transaction copies only the parts it changes and clones only
// the trees it writes: one that submits jobs clones four trees of the
// jobs in play, the audit trail's and the job events', not the finished
// jobs' seven.
type archive struct {
	*finishedJobs
	*records
	*auditTrail
	*eventLog
	live *liveJobs // the jobs in play (live.go)
	// seqs is the last value each sequence handed out (WriteTxn.next;
	// 0: none yet). Every submission draws three (job number, audit,
	// event); as rows of the meta table each was a radix path copied
	// per transaction, here it is a word of the transaction's copy of
	// this struct. Snapshots keep them as meta rows (snapshot.go).
	seqs [numCounters]uint64
	// meta is the modify indexes, which blocking queries wait on
	// (watch.go), and the event log's pruned index: a word each of this
	// struct too (indexes.go).
	meta metaRows
}

// part names one of the archive's parts.
type part uint8

const (
	partJobs part = iota
	partRecords
	partAudit
	partEvents
	partLive
	numParts
)

// own replaces part p of a by a copy of it that transaction gen owns:
// its trees are still the published ones, which the copy clones as the
// transaction writes them (cow.go).
func (a *archive) own(p part, gen uint64) {
	switch p {
	case partJobs:
		c := *a.finishedJobs
		c.gen, a.finishedJobs = gen, &c
	case partRecords:
		c := *a.records
		c.gen, a.records = gen, &c
	case partAudit:
		c := *a.auditTrail
		c.gen, a.auditTrail = gen, &c
	case partEvents:
		c := *a.eventLog
		c.gen, a.eventLog = gen, &c
	case partLive:
		c := *a.live
		c.gen, a.live = gen, &c
	}
}

// finishedJobs is the finished jobs.
type finishedJobs struct {
	jobTrees                       // by ID, number, tenant, owner, the agent's watch (jobtrees.go)
	ended    cowTree[*structs.Job] // retention: by end time, number
}

// records is the accounting records.
type records struct {
	recs      cowTree[*structs.AccountingRecord] // by seq
	recIDs    cowTree[*structs.AccountingRecord] // by ID
	recTenant cowTree[*structs.AccountingRecord] // by tenant, seq
	gen       uint64
}

// The trees by ID hold the stored objects themselves (a pointer, 8
// bytes), ordered by the ID they carry. A lookup by ID searches with a
// comparison of an entry's ID to the key (ptree.getFunc), so its pivot is
// the key string on the stack: the hub looks up an unknown job ID on
// every submission (is it free?). The entries were an ID and a pointer
// (24 bytes): every submission copies the rightmost paths of the jobs'
// and the audit trail's trees by ID, node by node, on every replica, and
// a node of 31 such entries was 768 bytes where one of pointers is 272.

func jobIDLess(a, b *structs.Job) bool              { return a.ID < b.ID }
func auditIDLess(a, b *structs.AuditEvent) bool     { return a.ID < b.ID }
func recIDLess(a, b *structs.AccountingRecord) bool { return a.ID < b.ID }

func byNumber(a, b *structs.Job) bool { return a.Number < b.Number }

func byStrNumber(f func(*structs.Job) string) lessFunc[*structs.Job] {
	return func(a, b *structs.Job) bool {
		if c := strings.Compare(f(a), f(b)); c != 0 {
			return c < 0
		}
		return a.Number < b.Number
	}
}

func byEnd(a, b *structs.Job) bool {
	if c := cmp.Compare(unixNanos(a.EndTime), unixNanos(b.EndTime)); c != 0 {
		return c < 0
	}
	return a.Number < b.Number
}

func jobTenant(j *structs.Job) string   { return j.Tenant }
func jobOwner(j *structs.Job) string    { return j.Owner }
func jobCluster(j *structs.Job) string  { return j.Cluster }
func jobPrevious(j *structs.Job) string { return j.PreviousCluster }

func newArchive() *archive {
	return &archive{
		finishedJobs: &finishedJobs{jobTrees: newJobTrees(), ended: newCowTree(byEnd)},
		records: &records{
			recs:   newCowTree(func(a, b *structs.AccountingRecord) bool { return a.Seq < b.Seq }),
			recIDs: newCowTree(recIDLess),
			recTenant: newCowTree(func(a, b *structs.AccountingRecord) bool {
				if c := strings.Compare(a.Tenant, b.Tenant); c != 0 {
					return c < 0
				}
				return a.Seq < b.Seq
			}),
		},
		auditTrail: newAuditTrail(),
		eventLog:   newEventLog(),
		live:       newLiveJobs(),
	}
}

// addJob stores a finished job, replacing one with its ID.
func (a *finishedJobs) addJob(j *structs.Job) {
	if old := a.job(j.ID); old != nil {
		a.delJob(old)
	}
	a.add(j)
	a.ended.w(a.gen).ReplaceOrInsert(j)
}

// delJob removes a stored job (the object addJob was given).
func (a *finishedJobs) delJob(j *structs.Job) {
	a.remove(j)
	a.ended.w(a.gen).Delete(j)
}

// addRec stores an accounting record, replacing one with its ID.
func (a *records) addRec(r *structs.AccountingRecord) {
	if old := a.rec(r.ID); old != nil {
		a.recs.w(a.gen).Delete(old)
		a.recTenant.w(a.gen).Delete(old)
	}
	a.recs.w(a.gen).ReplaceOrInsert(r)
	a.recIDs.w(a.gen).ReplaceOrInsert(r)
	a.recTenant.w(a.gen).ReplaceOrInsert(r)
}

// rec is the accounting record with the ID, nil if none.
func (a *records) rec(id string) *structs.AccountingRecord {
	r, _ := a.recIDs.getFunc(func(r *structs.AccountingRecord) int { return strings.Compare(r.ID, id) })
	return r
}

// eachRec calls fn on the records of a tenant ("": all) with a sequence
// number from `from` on, in sequence order, until fn returns false.
func (a *records) eachRec(tenant string, from uint64, fn func(*structs.AccountingRecord) bool) {
	if tenant == "" {
		a.recs.AscendGreaterOrEqual(&structs.AccountingRecord{Seq: from}, fn)
		return
	}
	a.recTenant.AscendGreaterOrEqual(&structs.AccountingRecord{Tenant: tenant, Seq: from}, func(r *structs.AccountingRecord) bool {
		return r.Tenant == tenant && fn(r)
	})
}
