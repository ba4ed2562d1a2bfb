package scope

import (
	"errors"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

func f(v float64) *float64 { return &v }

func TestCheck(t *testing.T) {
	sc := structs.Scope{
		Apps:         []structs.AppGrant{{App: "trainer", Commands: []string{"train"}}, {App: "viz"}},
		MachineTypes: []string{"gpu-small"},
		MaxNodes:     2,
		Params: map[string]structs.ParamBound{
			"epochs": {Min: f(1), Max: f(50)},
			"data":   {Prefix: "/data/incoming/", MaxLength: 64},
			"mode":   {Values: []string{"fast", "full"}},
		},
	}
	ok := Submission{App: "trainer", Command: "train", MachineType: "gpu-small", Nodes: 2,
		Parameters: map[string]string{"epochs": "10", "data": "/data/incoming/a.csv", "mode": "fast", "other": "x"}}
	with := func(mod func(*Submission)) Submission {
		s := ok
		s.Parameters = map[string]string{}
		for k, v := range ok.Parameters {
			s.Parameters[k] = v
		}
		mod(&s)
		return s
	}
	tests := map[string]struct {
		sub  Submission
		rule string // "" allowed
	}{
		"allowed":              {sub: ok},
		"any command of viz":   {sub: with(func(s *Submission) { s.App, s.Command = "viz", "anything" })},
		"other app":            {sub: with(func(s *Submission) { s.App = "miner" }), rule: "apps"},
		"other command":        {sub: with(func(s *Submission) { s.Command = "shell" }), rule: "commands"},
		"other machine type":   {sub: with(func(s *Submission) { s.MachineType = "gpu-huge" }), rule: "machine_types"},
		"too many nodes":       {sub: with(func(s *Submission) { s.Nodes = 3 }), rule: "max_nodes"},
		"below min":            {sub: with(func(s *Submission) { s.Parameters["epochs"] = "0" }), rule: "params.epochs"},
		"above max":            {sub: with(func(s *Submission) { s.Parameters["epochs"] = "51" }), rule: "params.epochs"},
		"not a number":         {sub: with(func(s *Submission) { s.Parameters["epochs"] = "many" }), rule: "params.epochs"},
		"outside prefix":       {sub: with(func(s *Submission) { s.Parameters["data"] = "/etc/passwd" }), rule: "params.data"},
		"dot-dot escape":       {sub: with(func(s *Submission) { s.Parameters["data"] = "/data/incoming/../../etc" }), rule: "params.data"},
		"too long":             {sub: with(func(s *Submission) { s.Parameters["data"] = "/data/incoming/" + string(make([]byte, 60)) }), rule: "params.data"},
		"not an allowed value": {sub: with(func(s *Submission) { s.Parameters["mode"] = "slow" }), rule: "params.mode"},
		"unbounded param free": {sub: with(func(s *Submission) { s.Parameters["other"] = "anything" })},
		"bounded param absent": {sub: with(func(s *Submission) { delete(s.Parameters, "epochs") })},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := Check("sa:acme/train", sc, tc.sub)
			got := ""
			var se *structs.ScopeError
			if errors.As(err, &se) {
				got = se.Rule
				if !errors.Is(err, structs.ErrForbidden) {
					t.Errorf("%v is not ErrForbidden", err)
				}
			} else if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if diff := cmp.Diff(tc.rule, got); diff != "" {
				t.Errorf("rule (-want +got):\n%s (%v)", diff, err)
			}
		})
	}
}

func TestCheckRate(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ago := func(s int) time.Time { return now.Add(-time.Duration(s) * time.Second) }
	tests := map[string]struct {
		rate   int
		recent []time.Time
		after  time.Duration // 0: allowed
	}{
		"no bound":              {rate: 0, recent: []time.Time{ago(1), ago(2)}},
		"under":                 {rate: 3, recent: []time.Time{ago(1), ago(2)}},
		"at rate":               {rate: 2, recent: []time.Time{ago(10), ago(20)}, after: 40 * time.Second},
		"old ones do not count": {rate: 2, recent: []time.Time{ago(10), ago(61), ago(70)}},
		"oldest in window":      {rate: 1, recent: []time.Time{ago(59)}, after: time.Second},
		"unordered":             {rate: 2, recent: []time.Time{ago(5), ago(30), ago(15)}, after: 45 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := CheckRate("sa:acme/x", tc.rate, tc.recent, now)
			var re *structs.RateError
			var got time.Duration
			if errors.As(err, &re) {
				got = re.RetryAfter()
				if !errors.Is(err, structs.ErrRateLimited) {
					t.Errorf("%v is not ErrRateLimited", err)
				}
			}
			if got != tc.after {
				t.Errorf("retry after %v, want %v (%v)", got, tc.after, err)
			}
		})
	}
}
