package state

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/google/btree"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The queries of a cluster's agent: its full listing and its watch. Both
// walk indexes whose size follows the jobs in play on the cluster (active,
// or changed since the agent last looked), never the finished jobs the hub
// keeps until their retention ends. The watch finds the jobs that ended
// since through the archive's trees by (cluster, modify index), so an
// agent learns of a job's end as before.

// ActiveClusterJobs returns the jobs active on a cluster (ASSIGNED,
// STARTING, RUNNING) numbered above after, in number order, at most limit
// (0: all). next is the after value of the next page, 0 on the last.
func (r *ReadTxn) ActiveClusterJobs(cluster string, after uint64, limit int) (jobs []*structs.Job, next uint64, err error) {
	if cluster == "" || after == math.MaxUint64 {
		return nil, 0, nil
	}
	it, err := r.txn.LowerBound(TableJobs, "cluster_active", cluster, after+1)
	if err != nil {
		return nil, 0, fmt.Errorf("state: jobs by cluster_active: %w", err)
	}
	jobs, next = page(it, func(j *structs.Job) bool { return j.Cluster == cluster },
		func(*structs.Job) bool { return true }, func(j *structs.Job) uint64 { return j.Number }, limit)
	return jobs, next, nil
}

// ClusterJobsChanged returns the jobs of a cluster whose modify index is
// above since — those assigned to it and those moved away from it
// (PreviousCluster) — numbered above after, in number order, at most limit
// (0: all). next is as for ActiveClusterJobs. Its cost follows the jobs
// changed since, not the jobs the cluster ever ran.
func (r *ReadTxn) ClusterJobsChanged(cluster string, since, after uint64, limit int) (jobs []*structs.Job, next uint64, err error) {
	if cluster == "" || since == math.MaxUint64 || after == math.MaxUint64 {
		return nil, 0, nil
	}
	var found []*structs.Job
	seen := map[uint64]bool{}
	for _, ix := range [...]struct {
		name string
		of   func(*structs.Job) string
	}{
		{"cluster_modify", func(j *structs.Job) string { return j.Cluster }},
		{"previous_cluster_modify", func(j *structs.Job) string { return j.PreviousCluster }},
	} {
		it, err := r.txn.LowerBound(TableJobs, ix.name, cluster, since+1)
		if err != nil {
			return nil, 0, fmt.Errorf("state: jobs by %s: %w", ix.name, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			j := raw.(*structs.Job)
			if ix.of(j) != cluster {
				break
			}
			if j.Number > after && !seen[j.Number] {
				seen[j.Number] = true
				found = append(found, j)
			}
		}
	}
	// Finished jobs (archive.go), by the same keys.
	for _, tr := range [...]*btree.BTreeG[*structs.Job]{r.ar.clusterMod, r.ar.prevMod} {
		of := jobCluster
		if tr == r.ar.prevMod {
			of = jobPrevious
		}
		pivot := &structs.Job{Cluster: cluster, PreviousCluster: cluster}
		pivot.ModifyIndex = since + 1
		tr.AscendGreaterOrEqual(pivot, func(j *structs.Job) bool {
			if of(j) != cluster {
				return false
			}
			if j.Number > after && !seen[j.Number] {
				seen[j.Number] = true
				found = append(found, j)
			}
			return true
		})
	}
	slices.SortFunc(found, func(a, b *structs.Job) int { return cmp.Compare(a.Number, b.Number) })
	jobs, next = pageOf(found, limit)
	return jobs, next, nil
}
