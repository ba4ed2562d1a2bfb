package state

import (
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jobTrees is the trees the jobs in play (live.go) and the finished jobs
// (archive.go) both keep, each under its own: the one shared helper of
// the two, with their lookups and listings. Embedded, it costs nothing at
// run time (the calls are static and the trees the same). Each adds the
// tree only it needs: the finished jobs' by end time (retention), the
// jobs in play's by active cluster (the agent's full listing).
type jobTrees struct {
	ids     cowTree[*structs.Job] // by ID: lookups, snapshots
	numbers cowTree[*structs.Job] // by number: JobByNumber, the default listing, dispatch's active jobs
	tenants cowTree[*structs.Job] // by tenant, number: a tenant's listing
	owners  cowTree[*structs.Job] // by owner, number: a user's listing, a service account's rate, triggers
	// The agent's watch: the jobs on a cluster by (cluster, modify
	// index, number), and those moved away from one by (previous
	// cluster, modify index, number); jobs without one are not in them.
	clusterMod cowTree[*structs.Job]
	prevMod    cowTree[*structs.Job]
	gen        uint64 // the transaction that owns this copy (cow.go)
}

func newJobTrees() jobTrees {
	return jobTrees{
		ids:        newCowTree(jobIDLess),
		numbers:    newCowTree(byNumber),
		tenants:    newCowTree(byStrNumber(jobTenant)),
		owners:     newCowTree(byStrNumber(jobOwner)),
		clusterMod: newCowTree(byStrModify(jobCluster)),
		prevMod:    newCowTree(byStrModify(jobPrevious)),
	}
}

// add puts j into every tree it belongs in (none holds its ID yet).
func (t *jobTrees) add(j *structs.Job) {
	g := t.gen
	t.ids.w(g).ReplaceOrInsert(j)
	t.numbers.w(g).ReplaceOrInsert(j)
	t.tenants.w(g).ReplaceOrInsert(j)
	t.owners.w(g).ReplaceOrInsert(j)
	if j.Cluster != "" {
		t.clusterMod.w(g).ReplaceOrInsert(j)
	}
	if j.PreviousCluster != "" {
		t.prevMod.w(g).ReplaceOrInsert(j)
	}
}

// remove takes a stored job (the object add was given) out of the trees.
func (t *jobTrees) remove(j *structs.Job) {
	g := t.gen
	t.ids.w(g).Delete(j)
	t.numbers.w(g).Delete(j)
	t.tenants.w(g).Delete(j)
	t.owners.w(g).Delete(j)
	if j.Cluster != "" {
		t.clusterMod.w(g).Delete(j)
	}
	if j.PreviousCluster != "" {
		t.prevMod.w(g).Delete(j)
	}
}

// job is the stored job with the ID, nil if none.
func (t *jobTrees) job(id string) *structs.Job {
	j, _ := t.ids.getFunc(func(j *structs.Job) int { return strings.Compare(j.ID, id) })
	return j
}

// jobByNumber is the stored job with the number, nil if none.
func (t *jobTrees) jobByNumber(n uint64) *structs.Job {
	j, _ := t.numbers.Get(&structs.Job{Number: n})
	return j
}

// eachJob calls fn on the stored jobs numbered from `from` on, in number
// order, of one tenant or owner (index "tenant", "owner" with key) or all
// (index "number"), until fn returns false.
func (t *jobTrees) eachJob(index, key string, from uint64, fn func(*structs.Job) bool) {
	switch index {
	case "tenant":
		t.tenants.AscendGreaterOrEqual(&structs.Job{Tenant: key, Number: from}, func(j *structs.Job) bool {
			return j.Tenant == key && fn(j)
		})
	case "owner":
		t.owners.AscendGreaterOrEqual(&structs.Job{Owner: key, Number: from}, func(j *structs.Job) bool {
			return j.Owner == key && fn(j)
		})
	default:
		t.numbers.AscendGreaterOrEqual(&structs.Job{Number: from}, fn)
	}
}
