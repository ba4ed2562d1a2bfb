package state

import (
	"cmp"
	"strings"

	"github.com/google/btree"

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
// table's modify index, in the meta table).
//
// A job moves here in the FSM apply that ends it (WriteTxn.insert), on
// every replica alike. Readers see the archive and the memdb tables of one
// commit (Store.pub); a write transaction changes lazy copy-on-write
// clones (btree.Clone) of the parts it writes, which its commit publishes
// and its abort drops, so a failed command leaves the archive as it was.

// archiveDegree is the B-trees' degree: nodes of 31 to 63 entries.
const archiveDegree = 32

// archive is the finished jobs, the accounting records, the audit trail,
// the job events and the jobs in play (live.go), each kept once (the
// stored objects, never changed in place) under the orders their readers
// need. Its five parts are cloned apart: a transaction that submits jobs
// clones the jobs in play, the audit trail and the job events, not the
// finished jobs' seven trees.
type archive struct {
	*finishedJobs
	*records
	*auditTrail
	*eventLog
	live *liveJobs // the jobs in play (live.go)
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

// clonePart replaces part p of a by a copy-on-write clone of src's (a and
// src may share the other parts).
func (a *archive) clonePart(p part, src *archive) {
	switch p {
	case partJobs:
		a.finishedJobs = src.finishedJobs.clone()
	case partRecords:
		a.records = src.records.clone()
	case partAudit:
		a.auditTrail = src.auditTrail.clone()
	case partEvents:
		a.eventLog = src.eventLog.clone()
	case partLive:
		a.live = src.live.clone()
	}
}

// finishedJobs is the finished jobs.
type finishedJobs struct {
	jobs       *btree.BTreeG[*structs.Job]          // by number
	jobIDs     *btree.BTreeG[idEntry[*structs.Job]] // by ID
	tenant     *btree.BTreeG[*structs.Job]          // by tenant, number
	owner      *btree.BTreeG[*structs.Job]          // by owner, number
	ended      *btree.BTreeG[*structs.Job]          // retention: by end time, number
	clusterMod *btree.BTreeG[*structs.Job]          // the agent's watch: by cluster, modify index, number
	prevMod    *btree.BTreeG[*structs.Job]          // and by previous cluster, modify index, number
}

// records is the accounting records.
type records struct {
	recs      *btree.BTreeG[*structs.AccountingRecord]          // by seq
	recIDs    *btree.BTreeG[idEntry[*structs.AccountingRecord]] // by ID
	recTenant *btree.BTreeG[*structs.AccountingRecord]          // by tenant, seq
}

// idEntry is an entry of a tree by ID. The ID is in the entry so that a
// lookup's pivot is a value on the stack: the hub looks up an unknown job
// ID on every submission (is it free?).
type idEntry[T any] struct {
	id  string
	obj T
}

func byID[T any](a, b idEntry[T]) bool { return a.id < b.id }

func byNumber(a, b *structs.Job) bool { return a.Number < b.Number }

func byStrNumber(f func(*structs.Job) string) btree.LessFunc[*structs.Job] {
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
		finishedJobs: &finishedJobs{
			jobs:       btree.NewG(archiveDegree, byNumber),
			jobIDs:     btree.NewG(archiveDegree, byID[*structs.Job]),
			tenant:     btree.NewG(archiveDegree, byStrNumber(jobTenant)),
			owner:      btree.NewG(archiveDegree, byStrNumber(jobOwner)),
			ended:      btree.NewG(archiveDegree, byEnd),
			clusterMod: btree.NewG(archiveDegree, byStrModify(jobCluster)),
			prevMod:    btree.NewG(archiveDegree, byStrModify(jobPrevious)),
		},
		records: &records{
			recs:   btree.NewG(archiveDegree, func(a, b *structs.AccountingRecord) bool { return a.Seq < b.Seq }),
			recIDs: btree.NewG(archiveDegree, byID[*structs.AccountingRecord]),
			recTenant: btree.NewG(archiveDegree, func(a, b *structs.AccountingRecord) bool {
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

// clone returns a copy-on-write copy of every part: O(1), and a write to
// either copy never shows in the other. It changes a's bookkeeping, so a
// must not be shared with readers yet (WriteTxn.Commit clones before
// publishing).
func (a *archive) clone() *archive {
	c := &archive{}
	for p := range numParts {
		c.clonePart(p, a)
	}
	return c
}

func (a *finishedJobs) clone() *finishedJobs {
	return &finishedJobs{
		jobs: a.jobs.Clone(), jobIDs: a.jobIDs.Clone(), tenant: a.tenant.Clone(), owner: a.owner.Clone(),
		ended: a.ended.Clone(), clusterMod: a.clusterMod.Clone(), prevMod: a.prevMod.Clone(),
	}
}

func (a *records) clone() *records {
	return &records{recs: a.recs.Clone(), recIDs: a.recIDs.Clone(), recTenant: a.recTenant.Clone()}
}

// addJob stores a finished job, replacing one with its ID.
func (a *finishedJobs) addJob(j *structs.Job) {
	if old, ok := a.jobIDs.Get(idEntry[*structs.Job]{id: j.ID}); ok {
		a.delJob(old.obj)
	}
	a.jobs.ReplaceOrInsert(j)
	a.jobIDs.ReplaceOrInsert(idEntry[*structs.Job]{j.ID, j})
	a.tenant.ReplaceOrInsert(j)
	a.owner.ReplaceOrInsert(j)
	a.ended.ReplaceOrInsert(j)
	if j.Cluster != "" {
		a.clusterMod.ReplaceOrInsert(j)
	}
	if j.PreviousCluster != "" {
		a.prevMod.ReplaceOrInsert(j)
	}
}

// delJob removes a stored job (the object addJob was given).
func (a *finishedJobs) delJob(j *structs.Job) {
	a.jobs.Delete(j)
	a.jobIDs.Delete(idEntry[*structs.Job]{id: j.ID})
	a.tenant.Delete(j)
	a.owner.Delete(j)
	a.ended.Delete(j)
	if j.Cluster != "" {
		a.clusterMod.Delete(j)
	}
	if j.PreviousCluster != "" {
		a.prevMod.Delete(j)
	}
}

// job is the finished job with the ID, nil if none.
func (a *finishedJobs) job(id string) *structs.Job {
	e, _ := a.jobIDs.Get(idEntry[*structs.Job]{id: id})
	return e.obj
}

// jobByNumber is the finished job with the number, nil if none.
func (a *finishedJobs) jobByNumber(n uint64) *structs.Job {
	j, _ := a.jobs.Get(&structs.Job{Number: n})
	return j
}

// eachJob calls fn on the finished jobs numbered from `from` on, in number
// order, of one tenant or owner (index "tenant", "owner" with key) or all
// (index "number"), until fn returns false.
func (a *finishedJobs) eachJob(index, key string, from uint64, fn func(*structs.Job) bool) {
	switch index {
	case "tenant":
		a.tenant.AscendGreaterOrEqual(&structs.Job{Tenant: key, Number: from}, func(j *structs.Job) bool {
			return j.Tenant == key && fn(j)
		})
	case "owner":
		a.owner.AscendGreaterOrEqual(&structs.Job{Owner: key, Number: from}, func(j *structs.Job) bool {
			return j.Owner == key && fn(j)
		})
	default:
		a.jobs.AscendGreaterOrEqual(&structs.Job{Number: from}, fn)
	}
}

// addRec stores an accounting record, replacing one with its ID.
func (a *records) addRec(r *structs.AccountingRecord) {
	if old, ok := a.recIDs.Get(idEntry[*structs.AccountingRecord]{id: r.ID}); ok {
		a.recs.Delete(old.obj)
		a.recTenant.Delete(old.obj)
	}
	a.recs.ReplaceOrInsert(r)
	a.recIDs.ReplaceOrInsert(idEntry[*structs.AccountingRecord]{r.ID, r})
	a.recTenant.ReplaceOrInsert(r)
}

// rec is the accounting record with the ID, nil if none.
func (a *records) rec(id string) *structs.AccountingRecord {
	e, _ := a.recIDs.Get(idEntry[*structs.AccountingRecord]{id: id})
	return e.obj
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
