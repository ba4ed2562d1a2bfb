package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestJobsTimeColumn: jobs shows squeue's TIME, the time a job has run
// by the clock the CLI is given (to its end once ended, 0:00 before it
// starts), and status a running job's elapsed time so far; -o json is
// the job objects as before.
func TestJobsTimeColumn(t *testing.T) {
	u := newUserHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t0 := u.clock.Now()
	for i := 0; i < 3; i++ {
		runCLI(t, u.env, "submit", "--app", "solver", "--machine", "n1").check(t, ExitOK)
	}
	u.place(ctx, t, 2)
	u.report(ctx, t, "1", structs.JobRunning, 0, "")
	u.clock.Add(30 * time.Minute)
	u.report(ctx, t, "2", structs.JobRunning, 0, "")
	u.clock.Add(time.Hour)
	u.report(ctx, t, "2", structs.JobCompleted, 0, "")

	cliAt := func(at time.Time, args ...string) result {
		t.Helper()
		var out, errb bytes.Buffer
		code := Run(ctx, args, &out, &errb, func(k string) string { return u.env[k] }, WithClock(func() time.Time { return at }))
		return result{code: code, stdout: out.String(), stderr: errb.String()}
	}
	at := t0.Add(26*time.Hour + 3*time.Minute + 4*time.Second)
	r := cliAt(at, "jobs", "--all")
	r.check(t, ExitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	header := strings.Fields(lines[0])
	col := func(name string) int {
		for i, h := range header {
			if h == name {
				return i
			}
		}
		t.Fatalf("no %s column: %q", name, lines[0])
		return -1
	}
	ti, st := col("TIME"), col("STATE")
	if col("SUBMITTED") != ti-1 || col("REASON") != ti+1 {
		t.Errorf("TIME is not between SUBMITTED and REASON: %q", lines[0])
	}
	want := map[string][2]string{"1": {"RUNNING", "1-02:03:04"}, "2": {"COMPLETED", "1:00:00"}, "3": {"QUEUED", "0:00"}}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		w, ok := want[f[0]]
		if !ok || f[st] != w[0] || f[ti] != w[1] {
			t.Errorf("row %q: want state %s, TIME %s", l, w[0], w[1])
		}
		delete(want, f[0])
	}
	if len(want) != 0 {
		t.Errorf("jobs --all lacks jobs %v:\n%s", want, r.stdout)
	}
	// A later clock, a longer time: nothing but the clock changed.
	if r := cliAt(at.Add(time.Minute), "jobs"); !strings.Contains(r.stdout, " 1-02:04:04 ") {
		t.Errorf("a minute later:\n%s", r.stdout)
	}
	cliAt(at, "status", "1").check(t, ExitOK, "Elapsed:", "1-02:03:04 so far")
	if r := cliAt(at, "status", "3"); strings.Contains(r.stdout, "Elapsed") {
		t.Errorf("status of a queued job shows an elapsed time:\n%s", r.stdout)
	}
	cliAt(at, "status", "2").check(t, ExitOK, "Elapsed:", "01:00:00\n")

	var jobs []map[string]any
	r = cliAt(at, "-o", "json", "jobs", "--all")
	if err := json.Unmarshal([]byte(r.stdout), &jobs); err != nil || len(jobs) != 3 {
		t.Fatalf("jobs -o json: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"time", "TIME", "elapsed"} {
		if _, ok := jobs[0][k]; ok {
			t.Errorf("jobs -o json gained %q: the job objects are the API's", k)
		}
	}
}

func TestSqueueTime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0:00", 59 * time.Second: "0:59", 61 * time.Second: "1:01", time.Hour: "1:00:00",
		23*time.Hour + 59*time.Minute + 59*time.Second: "23:59:59", 24 * time.Hour: "1-00:00:00",
		-time.Minute: "0:00", 400*time.Hour + 5*time.Second: "16-16:00:05",
	} {
		if got := structs.SqueueTime(d); got != want {
			t.Errorf("SqueueTime(%v) = %q, want %q", d, got, want)
		}
	}
}
