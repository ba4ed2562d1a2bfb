package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSubmitDependencyEnvChdir walks sbatch's --dependency, --export and
// --chdir through the CLI against a real one-replica hub: the request
// carries them, the waiting job shows "Dependency" in status, jobs'
// REASON and why, the dependency releases it once its job completes, and
// bad values exit 2 naming the variable, never its value, sending nothing.
func TestSubmitDependencyEnvChdir(t *testing.T) {
	u := newUserHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := map[string]string{}
	for k, v := range u.env {
		env[k] = v
	}
	env["CASE_DIR"] = "/data/case 1"
	cli := func(args ...string) result { t.Helper(); return runCLI(t, env, args...) }

	cli("submit", "--app", "solver", "-p", "n1").check(t, ExitOK, "(number 1)", "state QUEUED")
	r := cli("-o", "json", "submit", "--app", "solver", "-p", "n1", "-d", "afterok:1",
		"--export", "ALL,OMP_NUM_THREADS=4,CASE_DIR", "-e", "LIST=a,b", "--env", "TOKEN=s3=cr,et", "-D", "/data/run")
	r.check(t, ExitOK)
	var j structs.Job
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	wantEnv := map[string]string{"OMP_NUM_THREADS": "4", "CASE_DIR": "/data/case 1", "LIST": "a,b", "TOKEN": "s3=cr,et"}
	if j.State != structs.JobHeld || j.Dependency.String() != "afterok:1" || j.Workdir != "/data/run" || len(j.Env) != len(wantEnv) {
		t.Fatalf("submitted %+v", j)
	}
	for k, v := range wantEnv {
		if j.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, j.Env[k], v)
		}
	}
	st := cli("status", "2")
	st.check(t, ExitOK, "Dependency:", "afterok:1", "Substatus:", "Dependency: waits for afterok:1",
		"Environment:", "CASE_DIR LIST OMP_NUM_THREADS TOKEN", "Workdir:", "/data/run")
	if strings.Contains(st.stdout, "s3=cr") {
		t.Errorf("status shows a value of the environment:\n%s", st.stdout)
	}
	cli("why", "2").check(t, ExitOK, "HELD", "Dependency: waits for afterok:1")
	cli("jobs", "--state", "PD").check(t, ExitOK, "Dependency: waits for afterok:1")

	u.place(ctx, t, 4)
	cli("status", "2").check(t, ExitOK, "HELD") // job 1 is only assigned
	u.report(ctx, t, "1", structs.JobCompleted, 0, "done\n")
	u.place(ctx, t, 4) // released: QUEUED
	cli("status", "2").check(t, ExitOK, "QUEUED", "released: dependency afterok:1 holds")
	u.place(ctx, t, 4)
	cli("status", "2").check(t, ExitOK, "ASSIGNED")

	// Refused before sending, with the reason, never the value.
	before := len(cli("jobs", "--all", "-o", "json").stdout)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--export", "FLOTILLA_HUB=s3cret"}, "FLOTILLA_* variables are set by Flotilla"},
		{[]string{"-e", "1BAD=s3cret"}, "not a POSIX name"},
		{[]string{"--env", "s3cret"}, "want KEY=VALUE"},
		{[]string{"--export", "NOT_IN_THIS_SHELL"}, "not set in this shell"},
		{[]string{"--export", "A=1,ALL"}, "ALL must come first"},
		{[]string{"-D", "relative/s3cret"}, "--chdir"},
		{[]string{"-d", "singleton"}, "--dependency"},
		{[]string{"-d", "afterok:1_2"}, "array task"},
	} {
		r := cli(append([]string{"submit", "--app", "solver", "-p", "n1"}, tc.args...)...)
		r.check(t, ExitUsage, tc.want)
		if tc.want != "--chdir" && strings.Contains(r.stderr, "s3cret") {
			t.Errorf("%v: the error shows the value: %s", tc.args, r.stderr)
		}
	}
	// Refused by the hub: a dependency on a job that does not exist.
	cli("submit", "--app", "solver", "-p", "n1", "-d", "afterok:99").check(t, ExitError, "job 99 not found")
	if after := len(cli("jobs", "--all", "-o", "json").stdout); after != before {
		t.Errorf("refused submissions stored jobs")
	}
}
