package structs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ArraySpec is the index set of an array job, as Slurm's --array writes
// it: comma-separated ranges START-END[:STEP] and single indices, then one
// optional %MAX ("1-10000:2%64", "1,3,7-9%2"). MaxRunning 0 means no
// throttle (every slot of the allocation runs tasks).
//
// One range (the only form before index lists) is Start-End:Step, Step 0
// meaning 1, and Ranges is nil: its JSON object is
// {"start":1,"end":10000,"step":2,"max_running":64}, as every job stored
// before lists has it. An index list of two or more ranges is Ranges, in
// canonical form (see ParseArraySpec), with Start and End its lowest and
// highest index and Step 0; its object adds "ranges":[{"start":1,
// "end":1},{"start":7,"end":9}]. A list travels only in the FSM command
// that carries it (IsList).
//
// It reads JSON either as the string or as the object (unknown fields
// refused); it writes the object. Ranges are never changed in place: a
// copy of a spec shares them.
type ArraySpec struct {
	Start      int          `json:"start"`
	End        int          `json:"end"`
	Step       int          `json:"step,omitempty"`
	MaxRunning int          `json:"max_running,omitempty"`
	Ranges     []ArrayRange `json:"ranges,omitempty"`
}

// ArrayRange is one range of an index list: Start-End:Step, Step 0
// meaning 1; a single index is Start == End. In canonical form End is
// the range's last index and a single index has Step 0.
type ArrayRange struct {
	Start int `json:"start"`
	End   int `json:"end"`
	Step  int `json:"step,omitempty"`
}

func (r ArrayRange) step() int { return max(r.Step, 1) }

func (r ArrayRange) count() int {
	if r.End < r.Start {
		return 0
	}
	return (r.End-r.Start)/r.step() + 1
}

// last is the range's highest index.
func (r ArrayRange) last() int { return r.Start + (r.count()-1)*r.step() }

func (r ArrayRange) contains(i int) bool {
	return i >= r.Start && i <= r.End && (i-r.Start)%r.step() == 0
}

// String writes the range as --array does: "7", "1-9", "1-9:2".
func (r ArrayRange) String() string {
	if r.Start == r.End {
		return strconv.Itoa(r.Start)
	}
	s := strconv.Itoa(r.Start) + "-" + strconv.Itoa(r.End)
	if r.Step > 1 {
		s += ":" + strconv.Itoa(r.Step)
	}
	return s
}

// ParseArraySpec parses Slurm's --array syntax: comma-separated parts
// "N", "A-B" or "A-B:S", then one optional "%M" at the end; and validates
// the result. Like Slurm, the parts may come in any order and repeat
// indices: the spec is the set of their indices, written in canonical
// form (see canonicalRanges). One range gives the single-range form
// (Ranges nil), as does a list whose parts join into one range
// ("1-5,6-10" is 1-10).
func ParseArraySpec(s string) (ArraySpec, error) {
	bad := func(why string) (ArraySpec, error) {
		q := s
		if len(q) > 64 {
			q = q[:64] + "..."
		}
		return ArraySpec{}, &FieldError{Object: "job", Field: "array", Msg: strconv.Quote(q) + ": " + why}
	}
	const want = "want START-END[:STEP] or INDEX, comma-separated, then an optional %MAX, with non-negative integers"
	var a ArraySpec
	rest := strings.TrimSpace(s)
	switch {
	case len(s) > MaxArraySpecLen:
		return bad(fmt.Sprintf("%d bytes, at most %d", len(s), MaxArraySpecLen))
	case rest == "":
		return bad("is empty (" + want + ")")
	}
	if i := strings.IndexByte(rest, '%'); i >= 0 {
		m, ok := arrayNum(rest[i+1:])
		if !ok {
			return bad("the %MAX part is not a number (one %MAX, at the end)")
		}
		a.MaxRunning, rest = m, rest[:i]
		if a.MaxRunning == 0 {
			return bad("%0 would never run a task")
		}
	}
	parts := strings.Split(rest, ",")
	if len(parts) > MaxArrayRanges {
		return bad(fmt.Sprintf("%d parts, at most %d", len(parts), MaxArrayRanges))
	}
	rs := make([]ArrayRange, 0, len(parts))
	for _, p := range parts {
		r, why := parseArrayPart(strings.TrimSpace(p))
		if why != "" {
			return bad(fmt.Sprintf("part %q: %s", p, why))
		}
		rs = append(rs, r)
	}
	if err := a.setRanges(rs); err != nil {
		return bad(err.(*FieldError).Msg)
	}
	if err := a.Validate(); err != nil {
		return bad(err.(*FieldError).Msg)
	}
	return a, nil
}

// arrayNum reads a non-negative decimal integer without sign.
func arrayNum(v string) (int, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || v == "" || v[0] == '+' || v[0] == '-' {
		return 0, false
	}
	return n, true
}

// parseArrayPart reads one part of a list: "N", "A-B" or "A-B:S".
func parseArrayPart(p string) (ArrayRange, string) {
	const want = "want INDEX or START-END[:STEP] with non-negative integers"
	if p == "" {
		return ArrayRange{}, "is empty (" + want + ")"
	}
	var r ArrayRange
	rng, step, hasStep := strings.Cut(p, ":")
	lo, hi, isRange := strings.Cut(rng, "-")
	var ok bool
	if r.Start, ok = arrayNum(lo); !ok {
		return r, want
	}
	r.End = r.Start
	if isRange {
		if r.End, ok = arrayNum(hi); !ok {
			return r, want
		}
	}
	if hasStep {
		if !isRange {
			return r, "a :STEP needs a range START-END"
		}
		if r.Step, ok = arrayNum(step); !ok {
			return r, "the :STEP part is not a number"
		}
		if r.Step == 0 {
			return r, "step 0"
		}
	}
	switch {
	case r.End < r.Start:
		return r, fmt.Sprintf("end %d before start %d", r.End, r.Start)
	case r.End > MaxArrayIndex || r.Step > MaxArrayIndex:
		return r, fmt.Sprintf("above %d", MaxArrayIndex)
	}
	return r, ""
}

// setRanges sets the index set to the union of rs (each in bounds),
// canonical: one range as Start-End:Step with Ranges nil, else Ranges.
func (a *ArraySpec) setRanges(rs []ArrayRange) error {
	if len(rs) == 1 { // one range stays as written, as before lists
		a.Start, a.End, a.Step, a.Ranges = rs[0].Start, rs[0].End, rs[0].Step, nil
		if a.Step == 1 {
			a.Step = 0
		}
		return nil
	}
	c, err := canonicalRanges(rs)
	if err != nil {
		return err
	}
	a.Ranges = nil
	if len(c) == 1 {
		a.Start, a.End, a.Step = c[0].Start, c[0].End, c[0].Step
		return nil
	}
	a.Start, a.End, a.Step, a.Ranges = c[0].Start, c[len(c)-1].End, 0, c
	return nil
}

// Validate checks the bounds: indices in 0..MaxArrayIndex, at most
// MaxArrayTasks tasks, MaxRunning not negative; one range with Start <=
// End and Step not negative; a list of 2..MaxArrayRanges ranges in
// canonical form, Start and End its lowest and highest index. A wrong
// field is a *FieldError.
func (a ArraySpec) Validate() error {
	bad := func(format string, args ...any) error {
		return &FieldError{Object: "job", Field: "array", Msg: fmt.Sprintf(format, args...)}
	}
	if a.MaxRunning < 0 {
		return bad("max running must be positive")
	}
	if a.Ranges != nil {
		if err := checkCanonical(a.Ranges); err != nil {
			return bad("%s", err.Error())
		}
		switch {
		case a.Start != a.Ranges[0].Start || a.End != a.Ranges[len(a.Ranges)-1].End || a.Step != 0:
			return bad("with ranges, start and end are the lowest and highest index, and each range has its own step")
		case a.Count() > MaxArrayTasks:
			return bad("%d tasks, at most %d", a.Count(), MaxArrayTasks)
		}
		return nil
	}
	switch {
	case a.Start < 0 || a.End < 0:
		return bad("indices must not be negative")
	case a.End < a.Start:
		return bad("end %d before start %d", a.End, a.Start)
	case a.End > MaxArrayIndex:
		return bad("index %d above %d", a.End, MaxArrayIndex)
	case a.Step < 0:
		return bad("step must be positive")
	case a.Count() > MaxArrayTasks:
		return bad("%d tasks, at most %d", a.Count(), MaxArrayTasks)
	}
	return nil
}

// IsList reports whether a is an index list (two or more ranges), which
// only a hub and an agent that know lists may carry.
func (a ArraySpec) IsList() bool { return len(a.Ranges) > 1 }

// ranges is the spec's ranges: Ranges, or the one range.
func (a ArraySpec) ranges() []ArrayRange {
	if a.Ranges != nil {
		return a.Ranges
	}
	return []ArrayRange{{Start: a.Start, End: a.End, Step: a.Step}}
}

// Count is the number of task indices.
func (a ArraySpec) Count() int {
	if a.Ranges == nil {
		return ArrayRange{Start: a.Start, End: a.End, Step: a.Step}.count()
	}
	n := 0
	for _, r := range a.Ranges {
		n += r.count()
	}
	return n
}

// Index returns the i-th task index in index order (0 <= i < Count()): in
// constant time for one range, in the number of ranges for a list (use
// Positions for many lookups).
func (a ArraySpec) Index(i int) int {
	if a.Ranges == nil {
		return a.Start + i*max(a.Step, 1)
	}
	for _, r := range a.Ranges {
		if n := r.count(); i >= n {
			i -= n
			continue
		}
		return r.Start + i*r.step()
	}
	return -1
}

// Min is the lowest task index; Max the highest.
func (a ArraySpec) Min() int { return a.Start }

// Max is the highest task index.
func (a ArraySpec) Max() int {
	rs := a.ranges()
	return rs[len(rs)-1].last()
}

// SlurmStep is SLURM_ARRAY_TASK_STEP: Slurm sets the number written after
// the first ':' of the spec, 1 when there is none. For a list that is the
// step of the first range (in index order) that has one.
func (a ArraySpec) SlurmStep() int {
	for _, r := range a.ranges() {
		if r.Step > 1 && r.Start != r.End {
			return r.Step
		}
	}
	return 1
}

// Contains reports whether index is one of the array's (a binary search
// over a list's ranges).
func (a ArraySpec) Contains(index int) bool {
	if a.Ranges == nil {
		return ArrayRange{Start: a.Start, End: a.End, Step: a.Step}.contains(index)
	}
	k := rangeAt(a.Ranges, index)
	return k >= 0 && a.Ranges[k].contains(index)
}

// rangeAt is the position of the last range of sorted rs starting at or
// below index, -1 when none does.
func rangeAt(rs []ArrayRange, index int) int {
	lo, hi := 0, len(rs) // the first range starting above index is in [lo, hi]
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rs[m].Start <= index {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// All iterates over the task indices in index order with their positions
// (0, 1, ...): for pos, index := range spec.All().
func (a ArraySpec) All() func(yield func(pos, index int) bool) {
	return func(yield func(int, int) bool) {
		pos := 0
		for _, r := range a.ranges() {
			for i := r.Start; i <= r.End; i += r.step() {
				if !yield(pos, i) {
					return
				}
				pos++
			}
		}
	}
}

// String writes the spec in the --array syntax: "1-100:2%4", "1,3,7-9%2".
// One range keeps the form it always had ("5-5" for one index).
func (a ArraySpec) String() string {
	var s string
	if a.Ranges == nil {
		s = strconv.Itoa(a.Start) + "-" + strconv.Itoa(a.End)
		if a.Step > 1 {
			s += ":" + strconv.Itoa(a.Step)
		}
	} else {
		var b strings.Builder
		for i, r := range a.Ranges {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(r.String())
		}
		s = b.String()
	}
	if a.MaxRunning > 0 {
		s += "%" + strconv.Itoa(a.MaxRunning)
	}
	return s
}

// UnmarshalJSON reads the string form (parsed and validated) or the
// object form (unknown fields refused). An object with ranges is merged
// into canonical form and checked here (start and end, if given, must be
// its lowest and highest index; step belongs to each range); a
// single-range object's bounds are checked by Validate, as the request's
// Validate does.
func (a *ArraySpec) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return &FieldError{Object: "job", Field: "array", Msg: "is not a string"}
		}
		v, err := ParseArraySpec(s)
		if err != nil {
			return err
		}
		*a = v
		return nil
	}
	var p struct {
		Start      *int         `json:"start"`
		End        *int         `json:"end"`
		Step       int          `json:"step"`
		MaxRunning int          `json:"max_running"`
		Ranges     []ArrayRange `json:"ranges"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return &FieldError{Object: "job", Field: "array",
			Msg: "want \"START-END[:STEP][%MAX]\", a list \"1,3,7-9%2\", {start, end, step, max_running} or {ranges: [{start, end, step}], max_running}: " + err.Error()}
	}
	if p.Ranges == nil {
		*a = ArraySpec{Step: p.Step, MaxRunning: p.MaxRunning}
		if p.Start != nil {
			a.Start = *p.Start
		}
		if p.End != nil {
			a.End = *p.End
		}
		return nil // bounds are the request's Validate's business
	}
	bad := func(why string) error { return &FieldError{Object: "job", Field: "array", Msg: why} }
	switch {
	case len(p.Ranges) == 0:
		return bad("ranges is empty")
	case len(p.Ranges) > MaxArrayRanges:
		return bad(fmt.Sprintf("%d ranges, at most %d", len(p.Ranges), MaxArrayRanges))
	case p.Step != 0:
		return bad("with ranges, each range has its own step")
	}
	for _, r := range p.Ranges {
		switch {
		case r.Start < 0 || r.End < 0 || r.Step < 0:
			return bad(fmt.Sprintf("range %s: must not be negative", r))
		case r.End < r.Start:
			return bad(fmt.Sprintf("range %d-%d: end before start", r.Start, r.End))
		case r.End > MaxArrayIndex || r.Step > MaxArrayIndex:
			return bad(fmt.Sprintf("range %s: above %d", r, MaxArrayIndex))
		}
	}
	v := ArraySpec{MaxRunning: p.MaxRunning}
	if err := v.setRanges(p.Ranges); err != nil {
		return err
	}
	if (p.Start != nil && *p.Start != v.Min()) || (p.End != nil && *p.End != v.Max()) {
		return bad(fmt.Sprintf("with ranges, start and end are the lowest and highest index (%d and %d) or left out", v.Min(), v.Max()))
	}
	*a = v
	return nil
}
