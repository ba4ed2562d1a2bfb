package structs

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func allStates() []JobState {
	return []JobState{JobSubmitted, JobHeld, JobQueued, JobAssigned, JobStarting, JobRunning,
		JobCompleted, JobCompletedWithError, JobCanceled, JobTerminated}
}

func TestCanTransition(t *testing.T) {
	tests := map[string]struct {
		from, to JobState
		want     bool
	}{
		"submit to queue":             {JobSubmitted, JobQueued, true},
		"submit to held":              {JobSubmitted, JobHeld, true},
		"held released":               {JobHeld, JobQueued, true},
		"held cannot be assigned":     {JobHeld, JobAssigned, false},
		"queued to held by new limit": {JobQueued, JobHeld, true},
		"queued assigned":             {JobQueued, JobAssigned, true},
		"assigned re-queued":          {JobAssigned, JobQueued, true},
		"assigned short job done":     {JobAssigned, JobCompleted, true},
		"starting to running":         {JobStarting, JobRunning, true},
		"starting never re-queued":    {JobStarting, JobQueued, false},
		"running never re-queued":     {JobRunning, JobQueued, false},
		"running fails":               {JobRunning, JobCompletedWithError, true},
		"running terminated":          {JobRunning, JobTerminated, true},
		"running not canceled":        {JobRunning, JobCanceled, false},
		"queued not running":          {JobQueued, JobRunning, false},
		"self is no transition":       {JobRunning, JobRunning, false},
		"completed is final":          {JobCompleted, JobRunning, false},
		"canceled is final":           {JobCanceled, JobQueued, false},
		"unknown state":               {JobState("LOST"), JobQueued, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := CanTransition(tc.from, tc.to); got != tc.want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
			}
		})
	}
}

// TestTransitionInvariants checks properties over every pair of states.
func TestTransitionInvariants(t *testing.T) {
	for _, from := range allStates() {
		if !from.Valid() {
			t.Errorf("%s not valid", from)
		}
		for _, to := range allStates() {
			ok := CanTransition(from, to)
			switch {
			case ok && from.IsTerminal():
				t.Errorf("%s -> %s leaves a terminal state", from, to)
			case ok && to == JobSubmitted:
				t.Errorf("%s -> %s re-enters SUBMITTED", from, to)
			case ok && from.Started() && !(to.Started() || to.IsTerminal()):
				t.Errorf("%s -> %s restarts a started job", from, to)
			}
		}
		if !from.IsTerminal() && !CanTransition(from, JobCanceled) && !CanTransition(from, JobTerminated) {
			t.Errorf("%s cannot be stopped", from)
		}
	}
}

func TestJobName(t *testing.T) {
	at := time.Date(2026, 11, 28, 23, 30, 0, 0, time.FixedZone("x", -3600))
	tests := map[string]struct {
		n    uint64
		want string
	}{
		"padded":  {42, "alice-2026-11-29-0042"},
		"wide":    {123456, "alice-2026-11-29-123456"},
		"zero":    {0, "alice-2026-11-29-0000"},
		"exactly": {1000, "alice-2026-11-29-1000"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := JobName("alice", at, tc.n); got != tc.want {
				t.Errorf("JobName = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestJobValidateSubmit(t *testing.T) {
	ok := func() Job {
		return Job{ID: "j1", Tenant: "acme", Owner: "alice", App: "solver", MachineType: "n3",
			Nodes: 2, SubmitTime: time.Unix(1, 0)}
	}
	tests := map[string]struct {
		mut     func(*Job)
		wantErr bool
	}{
		"ok":            {func(*Job) {}, false},
		"held initial":  {func(j *Job) { j.State = JobHeld }, false},
		"no id":         {func(j *Job) { j.ID = "" }, true},
		"nul in id":     {func(j *Job) { j.ID = "a\x00b" }, true},
		"no tenant":     {func(j *Job) { j.Tenant = "" }, true},
		"zero nodes":    {func(j *Job) { j.Nodes = 0 }, true},
		"bad priority":  {func(j *Job) { j.Priority = "urgent" }, true},
		"no time":       {func(j *Job) { j.SubmitTime = time.Time{} }, true},
		"running start": {func(j *Job) { j.State = JobRunning }, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			j := ok()
			tc.mut(&j)
			if err := j.ValidateSubmit(); (err != nil) != tc.wantErr {
				t.Errorf("ValidateSubmit() = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}

// TestJobRedacted: the job the API shows at now has no pull credential,
// no token hash and no link expired at now; the stored job is unchanged.
func TestJobRedacted(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	link := func(name string, exp *time.Time) JobShare {
		return JobShare{Name: name, TokenHash: ShareHashPrefix + name, By: "ann", Created: now.Add(-time.Hour), Expires: exp}
	}
	for name, c := range map[string]struct {
		in, want *Job
	}{
		"nil":           {nil, nil},
		"nothing to do": {&Job{ID: "a"}, &Job{ID: "a"}},
		"pull secret":   {&Job{ID: "a", PullSecret: "reg"}, &Job{ID: "a"}},
		"live links": {
			&Job{ID: "a", Shares: []JobShare{link("never", nil), link("later", at(time.Second))}},
			&Job{ID: "a", Shares: []JobShare{{Name: "never", By: "ann", Created: now.Add(-time.Hour)},
				{Name: "later", By: "ann", Created: now.Add(-time.Hour), Expires: at(time.Second)}}},
		},
		"expired at now and before": {
			&Job{ID: "a", Shares: []JobShare{link("gone", at(-time.Hour)), link("never", nil), link("now", at(0))}},
			&Job{ID: "a", Shares: []JobShare{{Name: "never", By: "ann", Created: now.Add(-time.Hour)}}},
		},
		"all expired": {
			&Job{ID: "a", Shares: []JobShare{link("gone", at(-time.Minute))}},
			&Job{ID: "a"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			before := c.in.Copy()
			if diff := cmp.Diff(c.want, c.in.Redacted(now)); diff != "" {
				t.Errorf("Redacted (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, c.in); diff != "" {
				t.Errorf("Redacted changed its job (-before +after):\n%s", diff)
			}
		})
	}
}
