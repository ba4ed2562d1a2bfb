package structs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestParseSignalAt reads every form of Slurm's --signal and refuses the
// bad ones, naming what is wrong.
func TestParseSignalAt(t *testing.T) {
	all, batch := SignalAll, SignalBatch
	ok := map[string]SignalAt{
		"USR1":           {10, all, 60 * time.Second},
		"USR1@120":       {10, all, 120 * time.Second},
		"SIGUSR1@120":    {10, all, 120 * time.Second},
		"usr2@5":         {12, all, 5 * time.Second},
		"10@30":          {10, all, 30 * time.Second},
		"B:USR1@120":     {10, batch, 120 * time.Second},
		"b:TERM":         {15, batch, 60 * time.Second},
		"R:USR1@90":      {10, all, 90 * time.Second},
		"RB:USR1@90":     {10, batch, 90 * time.Second},
		"BR:INT":         {2, batch, 60 * time.Second},
		" B:USR1@120 ":   {10, batch, 120 * time.Second},
		"B:40@1":         {40, batch, time.Second},
		"USR1@65535":     {10, all, 65535 * time.Second},
		"KILL@10":        {9, all, 10 * time.Second},
		"B:SIGCONT@ 20 ": {18, batch, 20 * time.Second},
		"TSTP@100":       {20, all, 100 * time.Second},
	}
	for in, want := range ok {
		got, err := ParseSignalAt(in)
		if err != nil {
			t.Errorf("ParseSignalAt(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("ParseSignalAt(%q) = %+v, want %+v", in, got, want)
		}
		if back, err := ParseSignalAt(got.String()); err != nil || back != got {
			t.Errorf("%q: canonical %q reads back as %+v, %v", in, got.String(), back, err)
		}
	}
	bad := map[string]string{
		"":                         "empty",
		"   ":                      "empty",
		"USR3":                     "not a signal name",
		"0":                        "want a number",
		"65@10":                    "want a number",
		"USR1@":                    "TIME",
		"USR1@0":                   "at least 1 second",
		"USR1@-5":                  "at least 1 second",
		"USR1@1.5":                 "TIME",
		"USR1@1m":                  "TIME",
		"USR1@65536":               "at most 65535",
		"USR1@9223372036854775807": "at most 65535",
		"USR1@0x10":                "TIME",
		"X:USR1":                   "want R: or B:",
		"BB:USR1":                  "want R: or B:",
		":USR1":                    "nothing before",
		"B:":                       "no signal",
		"@60":                      "no signal",
		"r:b:USR1":                 "not a signal name",
		"B:USR1@60@30":             "TIME",
	}
	for in, want := range bad {
		_, err := ParseSignalAt(in)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSignalAt(%q) = %v, want an invalid error saying %q", in, err, want)
		}
	}
}

func TestSignalAtString(t *testing.T) {
	for in, want := range map[string][2]string{
		"B:SIGUSR1@120": {"B:USR1@120", "USR1 120 s before the walltime ends (main process)"},
		"r:usr1":        {"USR1@60", "USR1 60 s before the walltime ends"},
		"40@2":          {"40@2", "40 2 s before the walltime ends"},
	} {
		a, err := ParseSignalAt(in)
		if err != nil {
			t.Fatal(err)
		}
		if a.String() != want[0] || a.Describe() != want[1] {
			t.Errorf("%q: String %q, Describe %q; want %q", in, a.String(), a.Describe(), want)
		}
	}
}

// TestSignalAtDue: the signal goes TIME before the end of the walltime
// counted from the start.
func TestSignalAtDue(t *testing.T) {
	start := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	a := SignalAt{Signal: 10, Scope: SignalAll, Before: 10 * time.Second}
	if got, want := a.Due(start, 20*time.Second), start.Add(10*time.Second); !got.Equal(want) {
		t.Errorf("Due = %v, want %v", got, want)
	}
	a.Before = 2 * time.Minute
	if got, want := a.Due(start, time.Hour), start.Add(58*time.Minute); !got.Equal(want) {
		t.Errorf("Due = %v, want %v", got, want)
	}
}

// TestSubmitSignalAt: a submission's signal is checked (a form that
// reads, a walltime it fits in, agreeing with the job variable that
// carries it) and stored, canonical, as that variable; the request's own
// environment is left as it was. A refusal names the field.
func TestSubmitSignalAt(t *testing.T) {
	wt := func(d time.Duration) func(*JobSubmitRequest) {
		return func(r *JobSubmitRequest) { r.Walltime = Duration(d) }
	}
	cases := map[string]struct {
		mod     func(*JobSubmitRequest)
		field   string
		wantEnv map[string]string
	}{
		"none":      {wt(time.Hour), "", nil},
		"default":   {func(r *JobSubmitRequest) { wt(time.Hour)(r); r.Signal = "USR1" }, "", map[string]string{JobSignalAtVar: "USR1@60"}},
		"canonical": {func(r *JobSubmitRequest) { wt(time.Hour)(r); r.Signal = "r:sigusr1@120" }, "", map[string]string{JobSignalAtVar: "USR1@120"}},
		"with env": {func(r *JobSubmitRequest) {
			wt(20 * time.Second)(r)
			r.Signal, r.Env = "B:USR1@10", map[string]string{"A": "1"}
		}, "", map[string]string{"A": "1", JobSignalAtVar: "B:USR1@10"}},
		"variable alone": {func(r *JobSubmitRequest) {
			wt(time.Hour)(r)
			r.Env = map[string]string{JobSignalAtVar: "SIGUSR2@30"}
		}, "", map[string]string{JobSignalAtVar: "SIGUSR2@30"}},
		"both, the same meaning": {func(r *JobSubmitRequest) {
			wt(time.Hour)(r)
			r.Signal, r.Env = "USR1", map[string]string{JobSignalAtVar: "SIGUSR1@60"}
		}, "", map[string]string{JobSignalAtVar: "USR1@60"}},
		"both, different": {func(r *JobSubmitRequest) {
			wt(time.Hour)(r)
			r.Signal, r.Env = "USR1", map[string]string{JobSignalAtVar: "USR2"}
		}, "signal", nil},
		"with an array": {func(r *JobSubmitRequest) {
			wt(time.Hour)(r)
			r.Signal, r.Array, r.TaskCPUBind = "USR1@600", &ArraySpec{Start: 1, End: 4}, "slots"
		}, "", map[string]string{JobSignalAtVar: "USR1@600", ArrayTaskCPUBindVar: "slots"}},
		"no walltime":           {func(r *JobSubmitRequest) { r.Signal = "USR1@10" }, "signal", nil},
		"TIME is the walltime":  {func(r *JobSubmitRequest) { wt(time.Minute)(r); r.Signal = "USR1" }, "signal", nil},
		"TIME beyond it":        {func(r *JobSubmitRequest) { wt(20 * time.Second)(r); r.Signal = "USR1@30" }, "signal", nil},
		"TIME zero":             {func(r *JobSubmitRequest) { wt(time.Hour)(r); r.Signal = "USR1@0" }, "signal", nil},
		"bad name":              {func(r *JobSubmitRequest) { wt(time.Hour)(r); r.Signal = "USR9" }, "signal", nil},
		"bad variable":          {func(r *JobSubmitRequest) { wt(time.Hour)(r); r.Env = map[string]string{JobSignalAtVar: "x"} }, "env", nil},
		"variable, no walltime": {func(r *JobSubmitRequest) { r.Env = map[string]string{JobSignalAtVar: "USR1"} }, "env", nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, j, ok := validatedJobEnv(t, tc.mod, tc.field, tc.wantEnv)
			if !ok {
				return
			}
			got, ok := j.SignalAt()
			if _, has := tc.wantEnv[JobSignalAtVar]; has != ok {
				t.Fatalf("SignalAt() ok = %v, want %v", ok, has)
			}
			if ok {
				want, _ := ParseSignalAt(tc.wantEnv[JobSignalAtVar])
				if got != want {
					t.Errorf("SignalAt() = %+v, want %+v", got, want)
				}
			}
		})
	}
}

// TestJobSuspended: a running job is suspended when the last of its TSTP,
// STOP and CONT requests is a TSTP or a STOP (JARVICE's "Suspended by
// user"), shown as such by /jarvice/status.
func TestJobSuspended(t *testing.T) {
	reqs := func(sigs ...int) []JobSignal {
		var out []JobSignal
		for i, s := range sigs {
			out = append(out, JobSignal{Seq: i + 1, Signal: s, Scope: SignalAll})
		}
		return out
	}
	cases := map[string]struct {
		state JobState
		sigs  []int
		want  bool
	}{
		"none":               {JobRunning, nil, false},
		"TSTP":               {JobRunning, []int{20}, true},
		"STOP":               {JobRunning, []int{19}, true},
		"TSTP then CONT":     {JobRunning, []int{20, 18}, false},
		"CONT then TSTP":     {JobRunning, []int{18, 20}, true},
		"TSTP then USR1":     {JobRunning, []int{20, 10}, true},
		"USR1 only":          {JobRunning, []int{10, 15}, false},
		"TSTP, job ended":    {JobCompleted, []int{20}, false},
		"TSTP, CONT, STOP":   {JobRunning, []int{20, 18, 19}, true},
		"TSTP, job starting": {JobStarting, []int{20}, false},
	}
	for name, tc := range cases {
		j := &Job{State: tc.state, Signals: reqs(tc.sigs...), Substatus: "2 of 2 pods running"}
		if got := j.Suspended(); got != tc.want {
			t.Errorf("%s: Suspended() = %v, want %v", name, got, tc.want)
		}
		st := NewJarviceJobStatus(j)
		if tc.want && (st.JobSubstatus != JarviceSubstatusSuspended || st.JobSubstatusText != "Suspended by user") {
			t.Errorf("%s: /jarvice/status shows %d %q, want %d \"Suspended by user\"", name, st.JobSubstatus, st.JobSubstatusText, JarviceSubstatusSuspended)
		}
		if !tc.want && st.JobSubstatus == JarviceSubstatusSuspended {
			t.Errorf("%s: /jarvice/status shows suspended", name)
		}
	}
}
