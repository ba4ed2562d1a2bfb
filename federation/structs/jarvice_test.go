package structs

import (
	"testing"
	"time"
)

func TestJarviceStatusOf(t *testing.T) {
	cases := map[JobState][2]string{
		JobSubmitted:          {"SUBMITTED", ""},
		JobHeld:               {"SUBMITTED", "Held"},
		JobQueued:             {"SUBMITTED", "Queued"},
		JobAssigned:           {"SUBMITTED", "Assigned"},
		JobStarting:           {"PROCESSING STARTING", "Starting"},
		JobRunning:            {"PROCESSING STARTING", "Running"},
		JobCompleted:          {"COMPLETED", ""},
		JobCompletedWithError: {"COMPLETED WITH ERROR", ""},
		JobCanceled:           {"CANCELED", ""},
		JobTerminated:         {"TERMINATED", ""},
	}
	for s, want := range cases {
		if st, _, text := JarviceStatusOf(s); st != want[0] || text != want[1] {
			t.Errorf("JarviceStatusOf(%s) = %q, %q; want %q, %q", s, st, text, want[0], want[1])
		}
	}
	j := &Job{Name: "a-2026-01-01-0001", State: JobHeld, Substatus: "over limit cores",
		Walltime: Duration(26*time.Hour + 3*time.Minute + 4*time.Second), SubmitTime: time.Unix(1000, 0)}
	st := NewJarviceJobStatus(j)
	if st.JobStatus != "SUBMITTED" || st.JobSubstatus != JarviceSubstatusHeld || st.JobSubstatusText != "Held: over limit cores" || st.JobWalltime != "26:03:04" ||
		st.JobSubmitTime != 1000 || st.JobStartTime != 0 {
		t.Errorf("NewJarviceJobStatus = %+v", st)
	}
	if w := FormatWalltime(0); w != "" {
		t.Errorf("FormatWalltime(0) = %q", w)
	}
}
