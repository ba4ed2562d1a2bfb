package structs

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseArrayList(t *testing.T) {
	cases := map[string]struct {
		in, want string
		count    int
		step     int
		list     bool
	}{
		"indices":            {"1,3,7", "1,3,7", 3, 1, true},
		"slurm example":      {"0-15,20,40-100:10%4", "0-15,20,40-100:10%4", 24, 10, true},
		"ranges throttled":   {"1-3,7-9%2", "1-3,7-9%2", 6, 1, true},
		"any order":          {"7,3,1", "1,3,7", 3, 1, true},
		"spaces":             {" 1 , 3-4 ", "1,3-4", 3, 1, true},
		"repeat merged":      {"1-3,3,3", "1-3", 3, 1, false},
		"inside merged":      {"1-10,5", "1-10", 10, 1, false},
		"adjacent indices":   {"1,2,3", "1-3", 3, 1, false},
		"adjacent ranges":    {"1-5,6-10", "1-10", 10, 1, false},
		"progression joined": {"1-7:2,9", "1-9:2", 5, 2, false},
		"end set to last":    {"1-10:4,20", "1-9:4,20", 4, 4, true},
		"interleaved":        {"0-100:2,1-101:2", "0-101", 102, 1, false},
		"run after index":    {"1,3,4,5", "1,3-5", 4, 1, true},
		"overlap rewritten":  {"0-10:5,2-8:3", "0,2-8:3,10", 5, 3, true},
		"step one dropped":   {"1-3:1,9", "1-3,9", 4, 1, true},
		"two apart are two":  {"7-9,1-3:2", "1,3,7-9", 5, 1, true},
		"largest":            {"0-499999,600000-1099999%3", "0-499999,600000-1099999%3", MaxArrayTasks, 1, true},
		"highest index":      {"0,100000000", "0,100000000", 2, 1, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a, err := ParseArraySpec(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			if a.Count() != tc.count || a.SlurmStep() != tc.step || a.IsList() != tc.list {
				t.Errorf("Count, SlurmStep, IsList = %d, %d, %v; want %d, %d, %v", a.Count(), a.SlurmStep(), a.IsList(), tc.count, tc.step, tc.list)
			}
			if err := a.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
			back, err := ParseArraySpec(a.String())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(a, back); diff != "" {
				t.Errorf("String() does not read back the same (-first +again):\n%s", diff)
			}
		})
	}
}

func TestParseArrayListRefused(t *testing.T) {
	many := strings.Repeat("1,", MaxArrayRanges) + "1"
	long := strings.Repeat(" ", MaxArraySpecLen) + "1,2"
	cases := map[string]string{
		"empty part":         "1,,3",
		"trailing comma":     "1,",
		"leading comma":      ",1",
		"max in the middle":  "1%2,3",
		"two max":            "1-3%2%4",
		"step without range": "5:2",
		"step of an index":   "1-5,7:2",
		"reversed part":      "3,5-1",
		"negative part":      "3,-1",
		"too many parts":     many,
		"too long":           long,
		"too many written":   "0-999999,5",
		"too many tasks":     "0-500000,600000-1099999",
		"index too high":     "1,100000001",
		"step zero":          "1,2-8:0",
		"many ranges merged": "0-20000:2,1-20000:3",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseArraySpec(in)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "array" || !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseArraySpec(%.40q) = %v, want a FieldError on array", in, err)
			}
		})
	}
}

// TestArrayListMatchesSet checks every method against the set the parts
// name, for lists drawn at random (a fixed seed).
func TestArrayListMatchesSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 102))
	for n := range 2000 {
		var parts []string
		set := map[int]bool{}
		for range 1 + rng.IntN(6) {
			a := rng.IntN(60)
			switch rng.IntN(3) {
			case 0:
				parts = append(parts, itoa(a))
				set[a] = true
			case 1:
				b := a + rng.IntN(20)
				parts = append(parts, itoa(a)+"-"+itoa(b))
				for i := a; i <= b; i++ {
					set[i] = true
				}
			default:
				b, s := a+rng.IntN(40), 1+rng.IntN(7)
				parts = append(parts, itoa(a)+"-"+itoa(b)+":"+itoa(s))
				for i := a; i <= b; i += s {
					set[i] = true
				}
			}
		}
		in := strings.Join(parts, ",")
		a, err := ParseArraySpec(in)
		if err != nil {
			t.Fatalf("#%d %q: %v", n, in, err)
		}
		var want []int
		for i := range set {
			want = append(want, i)
		}
		slices.Sort(want)
		var got []int
		pos := a.Positions()
		for p, i := range a.All() {
			got = append(got, i)
			if a.Index(p) != i || pos.Index(p) != i {
				t.Fatalf("#%d %q: position %d is %d, Index says %d, Positions %d", n, in, p, i, a.Index(p), pos.Index(p))
			}
			if q, ok := pos.Position(i); !ok || q != p {
				t.Fatalf("#%d %q: Position(%d) = %d, %v; want %d", n, in, i, q, ok, p)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("#%d %q (as %q): indices (-want +got):\n%s", n, in, a.String(), diff)
		}
		for i := -1; i < 110; i++ {
			_, inPos := pos.Position(i)
			if a.Contains(i) != set[i] || inPos != set[i] {
				t.Fatalf("#%d %q: Contains(%d) = %v, Position ok %v; want %v", n, in, i, a.Contains(i), inPos, set[i])
			}
		}
		if a.Count() != len(want) || pos.Count() != len(want) || a.Min() != want[0] || a.Max() != want[len(want)-1] {
			t.Fatalf("#%d %q: Count %d, Min %d, Max %d; want %d, %d, %d", n, in, a.Count(), a.Min(), a.Max(), len(want), want[0], want[len(want)-1])
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("#%d %q: %v", n, in, err)
		}
		back, err := ParseArraySpec(a.String())
		if err != nil || !cmp.Equal(a, back) {
			t.Fatalf("#%d %q: String %q reads back as %+v, %v", n, in, a.String(), back, err)
		}
	}
}

func itoa(i int) string { return jsonInt(i) }

func jsonInt(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestArraySpecJSONForms(t *testing.T) {
	// One range: the object every stored job has, byte for byte.
	single, err := json.Marshal(ArraySpec{Start: 1, End: 100, Step: 2, MaxRunning: 8})
	if err != nil || string(single) != `{"start":1,"end":100,"step":2,"max_running":8}` {
		t.Errorf("single range = %s, %v", single, err)
	}
	list, _ := ParseArraySpec("1,3,7-9%2")
	b, err := json.Marshal(list)
	want := `{"start":1,"end":9,"max_running":2,"ranges":[{"start":1,"end":1},{"start":3,"end":3},{"start":7,"end":9}]}`
	if err != nil || string(b) != want {
		t.Errorf("list = %s, %v; want %s", b, err, want)
	}
	var back ArraySpec
	if err := json.Unmarshal(b, &back); err != nil || !cmp.Equal(list, back) {
		t.Errorf("list reads back as %+v, %v", back, err)
	}
	good := map[string]string{
		"ranges only":        `{"ranges":[{"start":7,"end":9},{"start":1,"end":1},{"start":3,"end":3}],"max_running":2}`,
		"with start and end": `{"start":1,"end":9,"ranges":[{"start":1,"end":1},{"start":3,"end":3},{"start":7,"end":9}],"max_running":2}`,
		"string":             `"7-9,3,1%2"`,
	}
	for name, in := range good {
		t.Run(name, func(t *testing.T) {
			var a ArraySpec
			if err := json.Unmarshal([]byte(in), &a); err != nil {
				t.Fatal(err)
			}
			if a.String() != "1,3,7-9%2" {
				t.Errorf("read %q", a.String())
			}
		})
	}
	var one ArraySpec
	if err := json.Unmarshal([]byte(`{"ranges":[{"start":1,"end":5},{"start":6,"end":9}]}`), &one); err != nil || one.IsList() || one.String() != "1-9" {
		t.Errorf("ranges that join: %+v, %v", one, err)
	}
	bad := map[string]string{
		"empty ranges":    `{"ranges":[]}`,
		"wrong start":     `{"start":0,"ranges":[{"start":1,"end":1},{"start":3,"end":3}]}`,
		"wrong end":       `{"end":4,"ranges":[{"start":1,"end":1},{"start":3,"end":3}]}`,
		"top step":        `{"step":2,"ranges":[{"start":1,"end":1},{"start":3,"end":3}]}`,
		"unknown in one":  `{"ranges":[{"start":1,"end":1,"stride":2},{"start":3,"end":3}]}`,
		"reversed range":  `{"ranges":[{"start":5,"end":1},{"start":7,"end":7}]}`,
		"negative":        `{"ranges":[{"start":-1,"end":1},{"start":3,"end":3}]}`,
		"index too high":  `{"ranges":[{"start":1,"end":1},{"start":100000001,"end":100000001}]}`,
		"too many tasks":  `{"ranges":[{"start":0,"end":600000},{"start":700000,"end":1200000}]}`,
		"string list bad": `"1,,2"`,
	}
	for name, in := range bad {
		t.Run("bad "+name, func(t *testing.T) {
			var r JobSubmitRequest
			err := json.Unmarshal([]byte(`{"app":"a","machine_type":"m","nodes":1,"array":`+in+`}`), &r)
			if err == nil {
				err = r.Validate()
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v, want invalid", in, err)
			}
		})
	}
}

func TestArrayListValidate(t *testing.T) {
	ok, _ := ParseArraySpec("1,3,7-9")
	cases := map[string]ArraySpec{
		"one range in ranges":  {Start: 1, End: 1, Ranges: []ArrayRange{{Start: 1, End: 1}}},
		"unsorted":             {Start: 7, End: 3, Ranges: []ArrayRange{{Start: 7, End: 9}, {Start: 3, End: 3}}},
		"overlapping":          {Start: 1, End: 9, Ranges: []ArrayRange{{Start: 1, End: 5}, {Start: 3, End: 9}}},
		"joinable":             {Start: 1, End: 9, Ranges: []ArrayRange{{Start: 1, End: 5}, {Start: 6, End: 9}}},
		"end not last":         {Start: 1, End: 20, Ranges: []ArrayRange{{Start: 1, End: 10, Step: 4}, {Start: 20, End: 20}}},
		"wrong start":          {Start: 0, End: 9, Ranges: ok.Ranges},
		"top step":             {Start: 1, End: 9, Step: 2, Ranges: ok.Ranges},
		"two apart as a range": {Start: 1, End: 9, Ranges: []ArrayRange{{Start: 1, End: 3, Step: 2}, {Start: 7, End: 9}}},
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			if err := a.Validate(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate() = %v, want invalid", err)
			}
		})
	}
}

func TestMergeTaskRangesOfList(t *testing.T) {
	spec, _ := ParseArraySpec("1,3,7-9")
	got, err := MergeTaskRanges(spec, "3", "7-8")
	if err != nil || got != "3,7-8" {
		t.Errorf("MergeTaskRanges = %q, %v", got, err)
	}
	if _, err := MergeTaskRanges(spec, "", "2"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "1,3,7-9") {
		t.Errorf("an index outside the list: %v", err)
	}
}

func TestArrayTasksOfList(t *testing.T) {
	spec, _ := ParseArraySpec("1,3,7-9")
	a := &ArrayJob{Spec: spec, Progress: &ArrayProgress{Total: 5, Pending: 2, Running: 1, Succeeded: 2, Done: "1,3", RunningTasks: []int{7}}}
	l, err := ArrayTasks(a, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range l.Tasks {
		got = append(got, jsonInt(x.Index)+":"+string(x.State))
	}
	want := []string{"1:succeeded", "3:succeeded", "7:running", "8:pending", "9:pending"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// millionList is a list of 1,000 ranges of 1,000 indices each, 1,000,000
// tasks: the largest array, in the most ranges.
func millionList(b *testing.B) ArraySpec {
	var parts []string
	for k := range MaxArrayRanges {
		parts = append(parts, itoa(k*2000)+"-"+itoa(k*2000+999))
	}
	a, err := ParseArraySpec(strings.Join(parts, ",") + "%64")
	if err != nil || a.Count() != MaxArrayTasks || len(a.Ranges) != MaxArrayRanges {
		b.Fatal(a.Count(), err)
	}
	return a
}

// BenchmarkArrayListParse parses the million-task list of 1,000 ranges.
func BenchmarkArrayListParse(b *testing.B) {
	s := millionList(b).String()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ParseArraySpec(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkArrayListLookups: one Contains, Positions.Index and
// Positions.Position on the million-task list of 1,000 ranges.
func BenchmarkArrayListLookups(b *testing.B) {
	a := millionList(b)
	p := a.Positions()
	n := 0
	for b.Loop() {
		i := p.Index(n % MaxArrayTasks)
		if q, ok := p.Position(i); !ok || q != n%MaxArrayTasks || !a.Contains(i) {
			b.Fatal(n, i, q)
		}
		n += 7919
	}
}

// BenchmarkArrayListAll walks the million tasks of 1,000 ranges in index
// order (what the dispatcher's progress does every second).
func BenchmarkArrayListAll(b *testing.B) {
	a := millionList(b)
	for b.Loop() {
		s := 0
		for _, i := range a.All() {
			s += i
		}
		if s == 0 {
			b.Fatal("no indices")
		}
	}
}

// FuzzParseArraySpec: whatever a spec string holds, a spec parsed from it
// validates, writes a string that reads back as the same spec, and its
// walk, count, bounds and membership agree.
func FuzzParseArraySpec(f *testing.F) {
	for _, s := range []string{"1-10000%64", "1,3,7", "0-15,20,40-100:10%4", "7,1,3", "1-10,5", "0-10:5,2-8:3", "1-3:2,9", "5", "1,,3", "1%2,3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseArraySpec(s)
		if err != nil {
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("%q parsed as %+v, which does not validate: %v", s, a, err)
		}
		back, err := ParseArraySpec(a.String())
		if err != nil || (a.IsList() && !cmp.Equal(a, back)) || back.String() != a.String() {
			t.Fatalf("%q: String %q reads back as %+v, %v", s, a.String(), back, err)
		}
		if a.Count() > 10000 {
			return // the walk below stays quick
		}
		n, prev := 0, -1
		for p, i := range a.All() {
			if p != n || i <= prev || !a.Contains(i) || a.Index(p) != i {
				t.Fatalf("%q: position %d is %d after %d", s, p, i, prev)
			}
			n, prev = n+1, i
		}
		if n != a.Count() || prev != a.Max() || a.Index(0) != a.Min() {
			t.Fatalf("%q: walked %d to %d, Count %d, Min %d, Max %d", s, n, prev, a.Count(), a.Min(), a.Max())
		}
	})
}
