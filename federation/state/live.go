package state

import (
	"cmp"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The jobs in play (not yet ended) are kept outside go-memdb too, in the
// archive's fifth part: copy-on-write B-trees with the archive's
// transaction semantics (a write transaction changes its own lazy clone,
// its commit publishes the clone with the memdb root under Store.pub, an
// abort drops it). Every submission writes a job row on every replica;
// in go-memdb its four index entries (id, number, tenant, owner) each
// copied a radix path with a watch channel per node, 48 of the 74
// allocations a replica's apply made per submission. Nothing blocks on
// one job: the agent's watch, the SSE streams, the portal and `--follow`
// wait on the jobs table's modify index in the meta table, which a commit
// that writes a job still bumps (watch.go). The memdb jobs table stays in
// the schema, empty, as the accounting and audit tables do.
//
// A job that ends leaves these trees for the finished jobs' (archive.go)
// in the same transaction, so a reader sees it in exactly one of them.

// liveJobs is the jobs in play under the orders their readers need.
type liveJobs struct {
	jobTrees // by ID, number, tenant, owner, the agent's watch (jobtrees.go)
	// The agent's full listing: the jobs active on a cluster (ASSIGNED,
	// STARTING, RUNNING) by (cluster, number).
	active cowTree[*structs.Job]
}

func newLiveJobs() *liveJobs {
	return &liveJobs{jobTrees: newJobTrees(), active: newCowTree(byStrNumber(jobCluster))}
}

// activeOn reports whether j belongs in the agent's full listing.
func activeOn(j *structs.Job) bool { return j.Cluster != "" && j.State.OnCluster() }

// put stores a job in play over old (the stored job with its ID, nil if
// none), writing only the trees whose key changed: a progress report
// that keeps a job's state rewrites its ID and number entries (same key,
// new object) and moves its watch entry to the new modify index.
func (l *liveJobs) put(j, old *structs.Job) {
	if old == nil {
		old = l.job(j.ID)
	}
	if old != nil && old.Number != j.Number {
		l.del(old)
		old = nil
	}
	l.ids.w(l.gen).ReplaceOrInsert(j)
	l.numbers.w(l.gen).ReplaceOrInsert(j)
	// The trees keyed by tenant or owner and number: the same key
	// replaces the old object in place.
	if old != nil && old.Tenant != j.Tenant {
		l.tenants.w(l.gen).Delete(old)
	}
	l.tenants.w(l.gen).ReplaceOrInsert(j)
	if old != nil && old.Owner != j.Owner {
		l.owners.w(l.gen).Delete(old)
	}
	l.owners.w(l.gen).ReplaceOrInsert(j)
	if old != nil {
		if old.Cluster != "" {
			l.clusterMod.w(l.gen).Delete(old)
		}
		if old.PreviousCluster != "" {
			l.prevMod.w(l.gen).Delete(old)
		}
		if activeOn(old) && (!activeOn(j) || old.Cluster != j.Cluster) {
			l.active.w(l.gen).Delete(old)
		}
	}
	if j.Cluster != "" {
		l.clusterMod.w(l.gen).ReplaceOrInsert(j)
	}
	if j.PreviousCluster != "" {
		l.prevMod.w(l.gen).ReplaceOrInsert(j)
	}
	if activeOn(j) {
		l.active.w(l.gen).ReplaceOrInsert(j)
	}
}

// del removes a stored job in play (the object put was given).
func (l *liveJobs) del(j *structs.Job) {
	l.remove(j)
	if activeOn(j) {
		l.active.w(l.gen).Delete(j)
	}
}

// each calls fn on the jobs in play numbered from `from` on, in number
// order, of one tenant, owner or cluster (index "tenant", "owner",
// "cluster_active" with key; the last holds only the jobs active on the
// cluster) or all (index "number"), until fn returns false.
func (l *liveJobs) each(index, key string, from uint64, fn func(*structs.Job) bool) {
	if index != "cluster_active" {
		l.eachJob(index, key, from, fn)
		return
	}
	l.active.AscendGreaterOrEqual(&structs.Job{Cluster: key, Number: from}, func(j *structs.Job) bool {
		return j.Cluster == key && fn(j)
	})
}

// eachChanged calls fn on the jobs of a cluster in tr (a tree by cluster
// or previous cluster, modify index and number, of either) whose modify
// index is above since, until fn returns false.
func eachChanged(tr *ptree[*structs.Job], of func(*structs.Job) string, cluster string, since uint64, fn func(*structs.Job) bool) {
	pivot := &structs.Job{Cluster: cluster, PreviousCluster: cluster}
	pivot.ModifyIndex = since + 1
	tr.AscendGreaterOrEqual(pivot, func(j *structs.Job) bool { return of(j) == cluster && fn(j) })
}

// byStrModify orders jobs by a string, then modify index and number.
func byStrModify(f func(*structs.Job) string) lessFunc[*structs.Job] {
	return func(a, b *structs.Job) bool {
		if c := strings.Compare(f(a), f(b)); c != 0 {
			return c < 0
		}
		if c := cmp.Compare(a.ModifyIndex, b.ModifyIndex); c != 0 {
			return c < 0
		}
		return a.Number < b.Number
	}
}
