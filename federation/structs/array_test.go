package structs

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseArraySpec(t *testing.T) {
	good := map[string]struct {
		in    string
		want  ArraySpec
		count int
	}{
		"range":           {"1-10000", ArraySpec{Start: 1, End: 10000}, 10000},
		"single":          {"7", ArraySpec{Start: 7, End: 7}, 1},
		"step":            {"0-9:3", ArraySpec{Start: 0, End: 9, Step: 3}, 4},
		"throttle":        {"1-10000%16", ArraySpec{Start: 1, End: 10000, MaxRunning: 16}, 10000},
		"step+throttle":   {"1-100:2%4", ArraySpec{Start: 1, End: 100, Step: 2, MaxRunning: 4}, 50},
		"spaces trimmed":  {" 1-3 ", ArraySpec{Start: 1, End: 3}, 3},
		"end off step":    {"1-10:4", ArraySpec{Start: 1, End: 10, Step: 4}, 3},
		"largest allowed": {"0-999999", ArraySpec{Start: 0, End: 999999}, MaxArrayTasks},
	}
	for name, tc := range good {
		t.Run(name, func(t *testing.T) {
			got, err := ParseArraySpec(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.Count() != tc.count {
				t.Errorf("Count() = %d, want %d", got.Count(), tc.count)
			}
			back, err := ParseArraySpec(got.String())
			if err != nil || back.Count() != got.Count() || back.MaxRunning != got.MaxRunning {
				t.Errorf("String() %q does not read back: %+v %v", got.String(), back, err)
			}
		})
	}
	bad := map[string]string{
		"empty":         "",
		"reversed":      "10-1",
		"negative":      "-1-5",
		"step zero":     "1-5:0",
		"throttle zero": "1-5%0",
		"letters":       "a-b",
		"too many":      "0-1000000",
		"too large":     "100000001",
		"plus sign":     "+1-5",
		"trailing dash": "1-",
		"bad max":       "1-5%x",
		"bad step":      "1-5:x",
	}
	for name, in := range bad {
		t.Run("bad "+name, func(t *testing.T) {
			_, err := ParseArraySpec(in)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "array" || !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseArraySpec(%q) = %v, want a FieldError on array", in, err)
			}
		})
	}
}

func TestArraySpecJSON(t *testing.T) {
	cases := map[string]struct {
		in      string
		want    ArraySpec
		wantErr bool
	}{
		"string":        {`"1-100%8"`, ArraySpec{Start: 1, End: 100, MaxRunning: 8}, false},
		"object":        {`{"start":1,"end":100,"step":2}`, ArraySpec{Start: 1, End: 100, Step: 2}, false},
		"unknown field": {`{"start":1,"end":2,"stride":2}`, ArraySpec{}, true},
		"bad string":    {`"5-1"`, ArraySpec{}, true},
		"number":        {`12`, ArraySpec{}, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var r JobSubmitRequest
			err := json.Unmarshal([]byte(`{"app":"a","machine_type":"m","nodes":1,"array":`+tc.in+`}`), &r)
			if err == nil {
				err = r.Validate()
			}
			if tc.wantErr {
				if err == nil {
					t.Fatalf("accepted: %+v", r.Array)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&tc.want, r.Array); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSubmitRequestArrayFields(t *testing.T) {
	base := func() JobSubmitRequest { return JobSubmitRequest{App: "a", MachineType: "m", Nodes: 1} }
	cases := map[string]struct {
		mod   func(*JobSubmitRequest)
		field string
	}{
		"retries without array":  {func(r *JobSubmitRequest) { r.TaskRetries = 1 }, "task_retries"},
		"walltime without array": {func(r *JobSubmitRequest) { r.TaskWalltime = Duration(1) }, "task_walltime"},
		"negative retries":       {func(r *JobSubmitRequest) { r.Array = &ArraySpec{Start: 1, End: 2}; r.TaskRetries = -1 }, "task_retries"},
		"too many retries":       {func(r *JobSubmitRequest) { r.Array = &ArraySpec{Start: 1, End: 2}; r.TaskRetries = 101 }, "task_retries"},
		"negative walltime":      {func(r *JobSubmitRequest) { r.Array = &ArraySpec{Start: 1, End: 2}; r.TaskWalltime = -1 }, "task_walltime"},
		"object out of bounds":   {func(r *JobSubmitRequest) { r.Array = &ArraySpec{Start: 5, End: 1} }, "array"},
		"fine":                   {func(r *JobSubmitRequest) { r.Array = &ArraySpec{Start: 1, End: 2}; r.TaskRetries = 3 }, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := base()
			tc.mod(&r)
			err := r.Validate()
			var fe *FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Fatal(err)
			case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
				t.Fatalf("Validate() = %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
}

func TestRanges(t *testing.T) {
	in := []int{1, 2, 3, 5, 7, 8, 10}
	s := FormatRanges(in)
	if s != "1-3,5,7-8,10" {
		t.Fatalf("FormatRanges = %q", s)
	}
	var back []int
	if err := ParseRanges(s, func(i int) bool { back = append(back, i); return true }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, back); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := ParseRanges("3-1", func(int) bool { return true }); err == nil {
		t.Error("a reversed range was accepted")
	}
}
