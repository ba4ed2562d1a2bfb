package state

import (
	"cmp"
	"math"
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The queries of a cluster's agent: its full listing and its watch. Both
// walk trees whose size follows the jobs in play on the cluster (active,
// or changed since the agent last looked), never the finished jobs the hub
// keeps until their retention ends. The watch finds the jobs that ended
// since through the finished jobs' trees by (cluster, modify index), so
// an agent learns of a job's end as before.

// ActiveClusterJobs returns the jobs active on a cluster (ASSIGNED,
// STARTING, RUNNING) numbered above after, in number order, at most limit
// (0: all). next is the after value of the next page, 0 on the last.
func (r *ReadTxn) ActiveClusterJobs(cluster string, after uint64, limit int) (jobs []*structs.Job, next uint64, err error) {
	if cluster == "" || after == math.MaxUint64 {
		return nil, 0, nil
	}
	var found []*structs.Job
	r.ar.live.each("cluster_active", cluster, after+1, func(j *structs.Job) bool {
		found = append(found, j)
		return limit <= 0 || len(found) <= limit
	})
	jobs, next = pageOf(found, limit)
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
	// The jobs in play (live.go) and the finished ones (archive.go), by
	// the same keys.
	for _, ix := range [...]struct {
		tr *ptree[*structs.Job]
		of func(*structs.Job) string
	}{
		{&r.ar.live.clusterMod.ptree, jobCluster}, {&r.ar.live.prevMod.ptree, jobPrevious},
		{&r.ar.clusterMod.ptree, jobCluster}, {&r.ar.prevMod.ptree, jobPrevious},
	} {
		eachChanged(ix.tr, ix.of, cluster, since, func(j *structs.Job) bool {
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
