package placement

import (
	"container/heap"
	"iter"
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// queued reports whether a job in state s waits for placement.
func queued(s structs.JobState) bool { return s == structs.JobQueued || s == structs.JobSubmitted }

// queueOrder returns the jobs to place, in the order to decide them. With
// fair share the order within a class depends on assignments made during
// the pass, so it is produced lazily, reading p between jobs.
func queueOrder(jobs []*structs.Job, p *pass) iter.Seq[*structs.Job] {
	q := make([]*structs.Job, 0, len(jobs))
	for _, j := range jobs {
		if queued(j.State) {
			q = append(q, j)
		}
	}
	slices.SortFunc(q, structs.CompareQueue)
	if !p.opts.FairShare {
		return slices.Values(q)
	}
	return func(yield func(*structs.Job) bool) {
		for start := 0; start < len(q); {
			end := start + 1
			for end < len(q) && q[end].Priority.Rank() == q[start].Priority.Rank() {
				end++
			}
			if !fairClass(q[start:end], p, yield) {
				return
			}
			start = end
		}
	}
}

// fairClass yields the jobs of one priority class, taking the next job
// each time from the group with the fewest cores in use. Cores are read
// when a group is pushed back, after its job was decided.
func fairClass(class []*structs.Job, p *pass, yield func(*structs.Job) bool) bool {
	byGroup := make(map[string]*group)
	h := &groupHeap{}
	for _, j := range class { // class is in queue order, so each group is too
		k := teamKey(j)
		g := byGroup[k]
		if g == nil {
			g = &group{key: k}
			byGroup[k] = g
			h.items = append(h.items, g)
		}
		g.jobs = append(g.jobs, j)
	}
	for _, g := range h.items {
		g.cores = p.teamCores[g.key]
	}
	heap.Init(h)
	for h.Len() > 0 {
		g := h.items[0]
		j := g.jobs[0]
		g.jobs = g.jobs[1:]
		if !yield(j) {
			return false
		}
		if len(g.jobs) == 0 {
			heap.Pop(h)
			continue
		}
		g.cores = p.teamCores[g.key]
		heap.Fix(h, 0)
	}
	return true
}

type group struct {
	key   string
	cores int64
	jobs  []*structs.Job // in queue order
}

// groupHeap orders groups by cores in use, then by their next job's place
// in the queue.
type groupHeap struct{ items []*group }

func (h *groupHeap) Len() int { return len(h.items) }
func (h *groupHeap) Less(a, b int) bool {
	ga, gb := h.items[a], h.items[b]
	if ga.cores != gb.cores {
		return ga.cores < gb.cores
	}
	return structs.CompareQueue(ga.jobs[0], gb.jobs[0]) < 0
}
func (h *groupHeap) Swap(a, b int) { h.items[a], h.items[b] = h.items[b], h.items[a] }
func (h *groupHeap) Push(x any)    { h.items = append(h.items, x.(*group)) }
func (h *groupHeap) Pop() any {
	last := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return last
}
