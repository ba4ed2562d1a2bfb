package structs

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDependency(t *testing.T) {
	type out struct {
		Refs []DependencyRef
		Any  bool
	}
	ok := map[string]out{
		"afterok:12":                 {Refs: []DependencyRef{{DependAfterOK, "12"}}},
		"afterok:12:13,afterany:j-x": {Refs: []DependencyRef{{DependAfterOK, "12"}, {DependAfterOK, "13"}, {DependAfterAny, "j-x"}}},
		"after:1?afternotok:2":       {Refs: []DependencyRef{{DependAfter, "1"}, {DependAfterNotOK, "2"}}, Any: true},
		" AfterOK:7 ":                {Refs: []DependencyRef{{DependAfterOK, "7"}}},
	}
	for in, want := range ok {
		refs, anyOf, err := ParseDependency(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if diff := cmp.Diff(want, out{refs, anyOf}); diff != "" {
			t.Errorf("%q (-want +got):\n%s", in, diff)
		}
	}
	bad := map[string]string{
		"":                             "empty",
		"afterok":                      "names no job",
		"afterok:":                     "empty job",
		"afterok:1,after:2?afterany:3": "mixes",
		"singleton":                    "not supported",
		"aftercorr:4":                  "not supported",
		"after:4+10":                   "time offset",
		"afterok:4_2":                  "array task",
		"before:4":                     "unknown type",
		"afterok:0":                    "job 0",
		"afterok:a/b":                  "not a job number or id",
		"afterok:" + strings.Repeat("1:", MaxDependencies) + "1": "more than",
	}
	for in, want := range bad {
		_, _, err := ParseDependency(in)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "dependency" || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want a dependency field error saying %q", in, err, want)
		}
	}
}

func TestDependencyEvaluate(t *testing.T) {
	jobs := map[uint64]*Job{
		1: {Number: 1, State: JobQueued},
		2: {Number: 2, State: JobRunning},
		3: {Number: 3, State: JobCompleted},
		4: {Number: 4, State: JobCompletedWithError},
		5: {Number: 5, State: JobCanceled},
		6: {Number: 6, State: JobTerminated},
		7: {Number: 7, State: JobHeld},
	}
	lookup := func(n uint64) *Job { return jobs[n] }
	dep := func(anyOf bool, cs ...DependencyCondition) *JobDependency {
		return &JobDependency{Any: anyOf, Conditions: cs}
	}
	c := func(t DependencyType, n uint64) DependencyCondition { return DependencyCondition{Type: t, Job: n} }
	cases := map[string]struct {
		d    *JobDependency
		want DependencyVerdict
		why  string
	}{
		"afterok queued waits":         {dep(false, c(DependAfterOK, 1)), DependencyWaits, "waits for afterok:1"},
		"afterok running waits":        {dep(false, c(DependAfterOK, 2)), DependencyWaits, "waits for afterok:2"},
		"afterok completed holds":      {dep(false, c(DependAfterOK, 3)), DependencyHolds, "afterok:3 holds"},
		"afterok failed never":         {dep(false, c(DependAfterOK, 4)), DependencyNever, "afterok:4 (job 4 is COMPLETED_WITH_ERROR)"},
		"afterok canceled never":       {dep(false, c(DependAfterOK, 5)), DependencyNever, "job 5 is CANCELED"},
		"afterok purged never":         {dep(false, c(DependAfterOK, 99)), DependencyNever, "job 99 is no longer known"},
		"afternotok completed never":   {dep(false, c(DependAfterNotOK, 3)), DependencyNever, "job 3 is COMPLETED"},
		"afternotok failed holds":      {dep(false, c(DependAfterNotOK, 4)), DependencyHolds, ""},
		"afternotok terminated holds":  {dep(false, c(DependAfterNotOK, 6)), DependencyHolds, ""},
		"afternotok running waits":     {dep(false, c(DependAfterNotOK, 2)), DependencyWaits, ""},
		"afterany canceled holds":      {dep(false, c(DependAfterAny, 5)), DependencyHolds, ""},
		"afterany running waits":       {dep(false, c(DependAfterAny, 2)), DependencyWaits, ""},
		"after running holds":          {dep(false, c(DependAfter, 2)), DependencyHolds, ""},
		"after canceled holds":         {dep(false, c(DependAfter, 5)), DependencyHolds, ""},
		"after held waits":             {dep(false, c(DependAfter, 7)), DependencyWaits, ""},
		"all: one waits":               {dep(false, c(DependAfterOK, 3), c(DependAfterOK, 2)), DependencyWaits, "waits for afterok:2"},
		"all: one never":               {dep(false, c(DependAfterOK, 2), c(DependAfterOK, 4)), DependencyNever, "afterok:4"},
		"all: every one holds":         {dep(false, c(DependAfterOK, 3), c(DependAfterAny, 4)), DependencyHolds, "afterok:3,afterany:4 holds"},
		"any: one holds":               {dep(true, c(DependAfterOK, 1), c(DependAfterNotOK, 4)), DependencyHolds, "afternotok:4 holds"},
		"any: others never, one waits": {dep(true, c(DependAfterOK, 4), c(DependAfterOK, 2)), DependencyWaits, "waits for afterok:2"},
		"any: every one never":         {dep(true, c(DependAfterOK, 4), c(DependAfterOK, 5)), DependencyNever, "job 4 is COMPLETED_WITH_ERROR); afterok:5"},
	}
	for name, tc := range cases {
		got, why := tc.d.Evaluate(lookup)
		if got != tc.want || !strings.Contains(why, tc.why) {
			t.Errorf("%s: %d %q, want %d containing %q", name, got, why, tc.want, tc.why)
		}
	}
	if s := dep(true, c(DependAfterOK, 1), c(DependAfterOK, 2), c(DependAfter, 3)).String(); s != "afterok:1:2?after:3" {
		t.Errorf("String = %q", s)
	}
}

func TestJobEnvChecks(t *testing.T) {
	base := JobSubmitRequest{App: "a", MachineType: "m", Nodes: 1}
	good := base
	good.Env, good.Workdir = map[string]string{"OMP_NUM_THREADS": "4", "_x1": "a,b=c d'\"$x"}, "/data/run"
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(r *JobSubmitRequest){
		"env":        func(r *JobSubmitRequest) { r.Env = map[string]string{"1X": "v"} },
		"env ":       func(r *JobSubmitRequest) { r.Env = map[string]string{"A-B": "v"} },
		"env  ":      func(r *JobSubmitRequest) { r.Env = map[string]string{"FLOTILLA_HUB": "v"} },
		"env   ":     func(r *JobSubmitRequest) { r.Env = map[string]string{"slurm_jobid": "v"} },
		"env    ":    func(r *JobSubmitRequest) { r.Env = map[string]string{"JARVICE_X": "v"} },
		"env     ":   func(r *JobSubmitRequest) { r.Env = map[string]string{"BIG": strings.Repeat("s3cr3t", MaxJobEnvValue)} },
		"env      ":  func(r *JobSubmitRequest) { r.Env = map[string]string{"NUL": "s3cr3t\x00"} },
		"workdir":    func(r *JobSubmitRequest) { r.Workdir = "relative/dir" },
		"workdir ":   func(r *JobSubmitRequest) { r.Workdir = "/a\nb" },
		"dependency": func(r *JobSubmitRequest) { r.Dependency = "afterok" },
	}
	for name, mut := range bad {
		r := base
		mut(&r)
		err := r.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != strings.TrimSpace(name) {
			t.Errorf("%s: %v, want a field error naming %s", name, err, strings.TrimSpace(name))
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: the error shows the value: %v", name, err)
		}
	}
}
