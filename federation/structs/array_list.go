package structs

import (
	"cmp"
	"fmt"
	"slices"
)

// Index lists. Slurm reads --array=1,3,7-9 as the set of the parts'
// indices (a bitmap): parts in any order, repeated or overlapping indices
// counted once. Flotilla does the same and keeps the set as ranges, never
// as one entry per index, in a canonical form: the ranges sorted, apart
// (each starts above the last index of the one before), each range's End
// its last index and its Step 0 for a step of 1 or a single index, two
// indices apart written as two ("1-3:2" in a list is 1,3), and
// neighbours that continue one progression joined ("1-5,6-9" is 1-9,
// "1-7:2,9" is 1-9:2; two single indices join only when adjacent, so
// "1,3,7" stays as written). Overlapping parts are merged: their indices
// are taken together and written again as ranges, greedily.

// canonicalRanges returns the union of rs (each within bounds) in
// canonical form. The parts may name at most MaxArrayTasks indices,
// repeats counted (this bounds the work of merging overlaps), and the
// result has at most MaxArrayRanges ranges. Errors are *FieldError.
func canonicalRanges(rs []ArrayRange) ([]ArrayRange, error) {
	bad := func(format string, args ...any) error {
		return &FieldError{Object: "job", Field: "array", Msg: fmt.Sprintf(format, args...)}
	}
	written := 0
	norm := make([]ArrayRange, 0, len(rs))
	for _, r := range rs {
		n := r.count()
		if n == 0 {
			return nil, bad("range %d-%d: end before start", r.Start, r.End)
		}
		written += n
		if written > MaxArrayTasks {
			return nil, bad("the parts name more than %d indices (repeats counted)", MaxArrayTasks)
		}
		r.End = r.last()
		if n == 1 || r.Step == 1 {
			r.Step = 0
		}
		if n == 2 && r.Step > 1 { // two indices apart: written as two
			norm = append(norm, ArrayRange{Start: r.Start, End: r.Start}, ArrayRange{Start: r.End, End: r.End})
			continue
		}
		norm = append(norm, r)
	}
	slices.SortFunc(norm, func(x, y ArrayRange) int {
		return cmp.Or(cmp.Compare(x.Start, y.Start), cmp.Compare(x.End, y.End))
	})
	out := make([]ArrayRange, 0, len(norm))
	for i := 0; i < len(norm); {
		j, end := i+1, norm[i].End
		for j < len(norm) && norm[j].Start <= end {
			end = max(end, norm[j].End)
			j++
		}
		if j == i+1 {
			out = appendJoined(out, norm[i])
		} else {
			out = appendMerged(out, norm[i:j])
		}
		if len(out) > MaxArrayRanges {
			return nil, bad("more than %d ranges once merged", MaxArrayRanges)
		}
		i = j
	}
	return out, nil
}

// appendMerged appends the union of the overlapping ranges group,
// written again as ranges: from each index, the longest run of one step
// (a run of two indices apart by more than 1 is written as two indices).
func appendMerged(out []ArrayRange, group []ArrayRange) []ArrayRange {
	n := 0
	for _, r := range group {
		n += r.count()
	}
	v := make([]int, 0, n)
	for _, r := range group {
		for i := r.Start; i <= r.End; i += r.step() {
			v = append(v, i)
		}
	}
	slices.Sort(v)
	v = slices.Compact(v)
	for i := 0; i < len(v); {
		if i+1 == len(v) {
			out = appendJoined(out, ArrayRange{Start: v[i], End: v[i]})
			break
		}
		s, j := v[i+1]-v[i], i+1
		for j+1 < len(v) && v[j+1]-v[j] == s {
			j++
		}
		if j == i+1 && s > 1 {
			out = appendJoined(out, ArrayRange{Start: v[i], End: v[i]})
			i++
			continue
		}
		r := ArrayRange{Start: v[i], End: v[j], Step: s}
		if s == 1 {
			r.Step = 0
		}
		out = appendJoined(out, r)
		i = j + 1
	}
	return out
}

// appendJoined appends r (canonical, above out's last index) to out,
// joined to out's last range when it continues that range's progression:
// two ranges of one step, a range and a single index one step beyond it,
// or two adjacent single indices.
func appendJoined(out []ArrayRange, r ArrayRange) []ArrayRange {
	if len(out) == 0 {
		return append(out, r)
	}
	p := &out[len(out)-1]
	pn, rn := p.count(), r.count()
	s := 1
	switch {
	case pn > 1 && rn > 1:
		if p.step() != r.step() {
			return append(out, r)
		}
		s = p.step()
	case pn > 1:
		s = p.step()
	case rn > 1:
		s = r.step()
	}
	if r.Start != p.End+s {
		return append(out, r)
	}
	p.End = r.End
	if s > 1 {
		p.Step = s
	}
	return out
}

// checkCanonical reports why rs is not an index list in canonical form
// (two or more ranges; nil when it is).
func checkCanonical(rs []ArrayRange) error {
	switch {
	case len(rs) < 2:
		return fmt.Errorf("a list has at least two ranges (one range is start, end and step)")
	case len(rs) > MaxArrayRanges:
		return fmt.Errorf("%d ranges, at most %d", len(rs), MaxArrayRanges)
	}
	for i, r := range rs {
		switch {
		case r.Start < 0 || r.Step < 0:
			return fmt.Errorf("range %s: must not be negative", r)
		case r.End < r.Start:
			return fmt.Errorf("range %d-%d: end before start", r.Start, r.End)
		case r.End > MaxArrayIndex:
			return fmt.Errorf("range %s: above %d", r, MaxArrayIndex)
		case r.End != r.last() || r.Step == 1 || (r.Start == r.End && r.Step != 0) || (r.count() == 2 && r.Step > 1):
			return fmt.Errorf("range %s is not in canonical form", r)
		case i > 0 && r.Start <= rs[i-1].End:
			return fmt.Errorf("ranges %s and %s are not sorted and apart", rs[i-1], r)
		case i > 0 && len(appendJoined([]ArrayRange{rs[i-1]}, r)) == 1:
			return fmt.Errorf("ranges %s and %s are one range", rs[i-1], r)
		}
	}
	return nil
}

// ArrayPositions maps an array's task indices to their positions in
// index order and back in O(log ranges), for code that keeps a slot per
// task (the head's dispatcher): built once, O(ranges) of memory.
type ArrayPositions struct {
	ranges []ArrayRange
	first  []int // position of each range's first index
	count  int
}

// Positions returns a's map of positions.
func (a ArraySpec) Positions() *ArrayPositions {
	rs := a.ranges()
	p := &ArrayPositions{ranges: rs, first: make([]int, len(rs))}
	for k, r := range rs {
		p.first[k] = p.count
		p.count += r.count()
	}
	return p
}

// Count is the number of task indices.
func (p *ArrayPositions) Count() int { return p.count }

// Index is the task index at position pos (0 <= pos < Count()).
func (p *ArrayPositions) Index(pos int) int {
	k, _ := slices.BinarySearch(p.first, pos+1) // the first range starting beyond pos
	r := p.ranges[k-1]
	return r.Start + (pos-p.first[k-1])*r.step()
}

// Position is index's position, false when index is not one of the
// array's.
func (p *ArrayPositions) Position(index int) (int, bool) {
	k := rangeAt(p.ranges, index)
	if k < 0 || !p.ranges[k].contains(index) {
		return 0, false
	}
	r := p.ranges[k]
	return p.first[k] + (index-r.Start)/r.step(), true
}
