package cli

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestScriptDirectives: the directives are the #SBATCH and #FLOTILLA lines
// before the first command, with their line numbers; words split at
// blanks, grouped by quotes, ended by a # comment.
func TestScriptDirectives(t *testing.T) {
	type d = directive
	cases := map[string]struct {
		script string
		want   []directive
	}{
		"before the first command": {
			script: "#!/bin/bash\n#SBATCH -N 4\n\n# a comment\n  # an indented comment\n#SBATCH --job-name=sweep\necho hi\n#SBATCH -N 8\n",
			want: []d{{line: 2, text: "#SBATCH -N 4", args: []string{"-N", "4"}},
				{line: 6, text: "#SBATCH --job-name=sweep", args: []string{"--job-name=sweep"}}}},
		"quotes and comments": {
			script: "#!/bin/sh\n#SBATCH -J \"my job\" --export='A=x y'   # two flags\n#FLOTILLA --image reg.example/img:1\n",
			want: []d{{line: 2, text: "#SBATCH -J \"my job\" --export='A=x y'   # two flags", args: []string{"-J", "my job", "--export=A=x y"}},
				{line: 3, text: "#FLOTILLA --image reg.example/img:1", args: []string{"--image", "reg.example/img:1"}}}},
		"commented out and look-alikes": {
			script: "#!/bin/sh\n##SBATCH -N 9\n#SBATCHX -N 9\n #SBATCH -N 9\n#SBATCH\n#SBATCH\t-p n1\n",
			want:   []d{{line: 5, text: "#SBATCH", args: nil}, {line: 6, text: "#SBATCH\t-p n1", args: []string{"-p", "n1"}}}},
		"none": {script: "#!/bin/sh\necho hi\n#SBATCH -N 2\n", want: nil},
	}
	for name, tc := range cases {
		got, err := scriptDirectives(tc.script)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(directive{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	if _, err := scriptDirectives("#!/bin/sh\n#SBATCH -J 'open\n"); err == nil || !strings.Contains(err.Error(), "2: #SBATCH -J 'open: a quote is not closed") {
		t.Errorf("unclosed quote: %v", err)
	}
}

// TestSbatchRefusesBadInput: a bad directive exits 2 naming the script's
// line, and a bad command line or script exits 2 saying why; nothing
// reaches the hub.
func TestSbatchRefusesBadInput(t *testing.T) {
	hubURL, calls := countingHub(t)
	env := map[string]string{EnvHub: hubURL, EnvAPIKey: "flk_x"}
	good := "#!/bin/sh\n#SBATCH -p n1\n"
	cases := map[string]struct {
		script string
		args   []string
		want   string
	}{
		"--mem":                {script: good + "#SBATCH --mem=4G\necho\n", want: "job.sh:3: #SBATCH --mem=4G: --mem is not taken here: memory comes with the machine type"},
		"-n":                   {script: good + "#SBATCH -n 64\n", want: "job.sh:3: #SBATCH -n 64: -n is not taken here: ranks and cores come with the machine type"},
		"-o is Slurm's":        {script: good + "#SBATCH -o out.%j\n", want: "job.sh:3: #SBATCH -o out.%j: -o is not taken here: a job's output is kept with it"},
		"-e is Slurm's":        {script: good + "#SBATCH -e err.%j\n", want: "job.sh:3: #SBATCH -e err.%j: -e is not taken here"},
		"bad walltime":         {script: good + "#SBATCH -t soon\n", want: "job.sh:3: #SBATCH -t soon: --walltime"},
		"bad array":            {script: "#!/bin/sh\n\n#SBATCH --array=5-1\n", want: "job.sh:3: #SBATCH --array=5-1: --array"},
		"retries, no array":    {script: good + "#SBATCH --task-retries=2\n", want: "sbatch: --task-retries needs an array"},
		"bad retries":          {script: good + "#SBATCH --task-retries=-1\n", want: "job.sh:3: #SBATCH --task-retries=-1: --task-retries -1 out of 0..100"},
		"bad nodes":            {script: good + "#SBATCH -N 0\n", want: "job.sh:3: #SBATCH -N 0: --nodes 0 out of 1.."},
		"not a number":         {script: good + "#SBATCH -N four\n", want: "job.sh:3: #SBATCH -N four: invalid value \"four\" for flag -N"},
		"reserved variable":    {script: good + "#SBATCH --export=SLURM_X=1\n", want: "job.sh:3: #SBATCH --export=SLURM_X=1: --export"},
		"bad dependency":       {script: good + "#SBATCH --dependency=singleton\n", want: "job.sh:3: #SBATCH --dependency=singleton: --dependency"},
		"unknown flag":         {script: good + "#SBATCH --frobnicate\n", want: "job.sh:3: #SBATCH --frobnicate: flag provided but not defined: -frobnicate"},
		"--requeue":            {script: good + "#SBATCH --requeue\n", want: "job.sh:3: #SBATCH --requeue: --requeue is not taken here: nothing restarts a job"},
		"an argument":          {script: good + "#SBATCH -N 2 extra\n", want: "job.sh:3: #SBATCH -N 2 extra: unexpected argument \"extra\""},
		"unclosed quote":       {script: good + "#SBATCH -J 'x\n", want: "job.sh:3: #SBATCH -J 'x: a quote is not closed"},
		"--app":                {script: good + "#SBATCH --app solver\n", want: "--app is not taken here: a job script runs in its image"},
		"no #!":                {script: "#SBATCH -p n1\necho\n", want: "job.sh: the script does not start with #!"},
		"DOS line breaks":      {script: "#!/bin/sh\r\n#SBATCH -p n1\r\n", want: "job.sh: the script has DOS line breaks"},
		"no machine":           {script: "#!/bin/sh\necho\n", want: "sbatch: --machine is required (or #SBATCH -p TYPE in the script)"},
		"--mem on the line":    {script: good, args: []string{"--mem", "4G"}, want: "sbatch: --mem is not taken here: memory comes with the machine type"},
		"bad flag on the line": {script: good, args: []string{"-t", "soon"}, want: "sbatch: --walltime"},
		"-o file on the line":  {script: good, args: []string{"-o", "out.txt"}, want: "-o \"out.txt\": want table or json"},
	}
	for name, tc := range cases {
		path := writeFile(t, "job.sh", tc.script)
		args := tc.args
		if args == nil {
			args = []string{"--image", "ubuntu:24.04"}
		}
		r := runCLI(t, env, append(append([]string{"sbatch"}, args...), path)...)
		r.check(t, ExitUsage, tc.want)
		if !strings.Contains(r.stderr, path) && strings.Contains(tc.want, "job.sh") {
			t.Errorf("%s: the message names %q? %s", name, path, r.stderr)
		}
	}
	for _, args := range [][]string{
		{"sbatch", "--image", "i"}, // no script
		{"sbatch", "--image", "i", "--wrap", "true", writeFile(t, "x", "")}, // --wrap and a script
		{"sbatch", "--image", "i", "/nonexistent/job.sh"},
		{"sbatch", "--image", "i", writeFile(t, "big.sh", "#!/bin/sh\n"+strings.Repeat("#\n", structs.MaxJobScript))},
	} {
		runCLI(t, env, args...).check(t, ExitUsage)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("refused input sent %d requests to the hub", n)
	}
}

// TestSbatchSubmits: flotilla sbatch against a real hub. The directives
// give the job's fields, the command line wins over them, #SBATCH lines
// after the first command are ignored; the script and its arguments are
// stored with the job; --parsable, #FLOTILLA --image, $FLOTILLA_IMAGE,
// stdin and --wrap work as sbatch's.
func TestSbatchSubmits(t *testing.T) {
	u, ctx := userHubWithin(t, 60*time.Second)
	runCLI(t, u.env, "submit", "--app", "solver", "-p", "n1", "--parsable").check(t, ExitOK, "1\n")
	script := `#!/bin/bash
# a sweep
#SBATCH -N 2
#SBATCH -p n1
#SBATCH -t 1:00:00 -J sweep   # an hour
#SBATCH --array=1-10%2
#SBATCH --task-retries=2 --task-walltime=5:00
#SBATCH --export=CASE=7,MODE=fast
#SBATCH -D /data/run
#SBATCH --dependency=afterany:1
#SBATCH --priority high

echo "args: $@"
#SBATCH -N 8
`
	path := writeFile(t, "job.sh", script)
	r := runCLI(t, u.env, "sbatch", "--image", "ubuntu:24.04", "-N", "3", path, "a b", "c")
	r.check(t, ExitOK, "Submitted batch job 2\n")
	j, err := findJob(ctx, u.adm, "2")
	if err != nil {
		t.Fatal(err)
	}
	if j.Nodes != 3 || j.MachineType != "n1" || j.Walltime != structs.Duration(time.Hour) || j.Label != "sweep" ||
		j.Array == nil || j.Array.Spec.String() != "1-10%2" || j.Array.TaskRetries != 2 || j.Array.TaskWalltime != structs.Duration(5*time.Minute) || j.Env["CASE"] != "7" || j.Env["MODE"] != "fast" ||
		j.Workdir != "/data/run" || j.Dependency == nil || j.Priority != structs.PriorityHigh || !strings.HasPrefix(j.App, "batch-") {
		t.Errorf("job %+v", j)
	}
	if got, err := u.adm.JobScript(ctx, j.ID); err != nil || got != script {
		t.Errorf("stored script %q, %v", got, err)
	}
	if r := runCLI(t, u.env, "script", "2"); r.code != ExitOK || r.stdout != script {
		t.Errorf("flotilla script 2: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	runCLI(t, u.env, "script", "1").check(t, ExitNotFound, "not a job script")
	if j.Parameters["args"] != "'a b' 'c'" {
		t.Errorf("arguments %q", j.Parameters["args"])
	}

	// --parsable; the image from #FLOTILLA, then from $FLOTILLA_IMAGE.
	flot := writeFile(t, "flot.sh", "#!/bin/sh\n#FLOTILLA --image reg.example/tools:2\n#SBATCH -p n1\ntrue\n")
	runCLI(t, u.env, "sbatch", "--parsable", flot).check(t, ExitOK, "3\n")
	env := map[string]string{EnvImage: "debian:stable"}
	for k, v := range u.env {
		env[k] = v
	}
	plain := writeFile(t, "plain.sh", "#!/bin/sh\n#SBATCH -p n1\ntrue\n")
	runCLI(t, env, "sbatch", plain).check(t, ExitOK, "Submitted batch job 4\n")
	runCLI(t, env, "sbatch", "--image", "alpine:3", plain).check(t, ExitOK, "Submitted batch job 5\n")
	images := map[string]string{"3": "reg.example/tools:2", "4": "debian:stable", "5": "alpine:3"}
	for n, want := range images {
		j, err := findJob(ctx, u.adm, n)
		if err != nil {
			t.Fatal(err)
		}
		if app, err := u.adm.GetApp(ctx, j.App); err != nil || app.Image != want {
			t.Errorf("job %s runs in %v (%v), want %s", n, app, err, want)
		}
	}

	// No image anywhere, and a hub without a default: the hub refuses.
	runCLI(t, u.env, "sbatch", plain).check(t, ExitError, "image is required with a script: this hub has no default image", "HTTP 400")

	// stdin, and --wrap.
	var out, errb bytes.Buffer
	code := Run(ctx, []string{"sbatch", "--image", "i:1", "-p", "n1", "-o", "json", "-"}, &out, &errb,
		func(k string) string { return u.env[k] }, WithStdin(strings.NewReader("#!/bin/sh\necho from stdin\n")))
	var sj structs.Job
	if code != ExitOK || json.Unmarshal(out.Bytes(), &sj) != nil || sj.Number != 6 {
		t.Fatalf("sbatch - : exit %d, %s %s", code, out.String(), errb.String())
	}
	if got, _ := u.adm.JobScript(ctx, sj.ID); got != "#!/bin/sh\necho from stdin\n" {
		t.Errorf("stdin script %q", got)
	}
	runCLI(t, u.env, "sbatch", "--image", "i:1", "-p", "n1", "--wrap", "hostname; date").check(t, ExitOK, "Submitted batch job 7\n")
	w, _ := findJob(ctx, u.adm, "7")
	if got, _ := u.adm.JobScript(ctx, w.ID); got != wrapScript("hostname; date") || !strings.HasPrefix(got, "#!/bin/sh\n") {
		t.Errorf("--wrap script %q", got)
	}
}

// TestSubmitWait: --wait (sbatch and submit) returns when the job ends:
// 0 when it COMPLETED, its exit code when it failed with one, 1 when it
// was canceled; with -o json it prints the ended job.
func TestSubmitWait(t *testing.T) {
	u, ctx := userHubWithin(t, 90*time.Second)
	path := writeFile(t, "job.sh", "#!/bin/sh\n#SBATCH -p n1\nexit 3\n")
	type ended struct {
		code      int
		out, errs string
	}
	start := func(args ...string) chan ended {
		done := make(chan ended, 1)
		go func() {
			var out, errb lockedBuffer
			code := Run(ctx, args, &out, &errb, func(k string) string { return u.env[k] })
			done <- ended{code, out.String(), errb.String()}
		}()
		return done
	}
	waitJob := func(n string) {
		t.Helper()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := findJob(ctx, u.adm, n); err == nil {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("job %s was not submitted", n)
			case <-tick.C:
			}
		}
	}
	get := func(done chan ended) ended {
		t.Helper()
		select {
		case e := <-done:
			return e
		case <-ctx.Done():
			t.Fatal("--wait did not return when the job ended")
		}
		return ended{}
	}
	cases := []struct {
		args  []string
		end   func(n string)
		code  int
		out   string
		inErr string
	}{
		{args: []string{"sbatch", "--image", "i:1", "--wait", path},
			end:  func(n string) { u.place(ctx, t, 8); u.report(ctx, t, n, structs.JobCompletedWithError, 3, "bye\n") },
			code: 3, out: "Submitted batch job 1\n", inErr: "ended COMPLETED_WITH_ERROR with exit code 3"},
		{args: []string{"submit", "--app", "solver", "-p", "n1", "-W", "--parsable"},
			end:  func(n string) { u.place(ctx, t, 8); u.report(ctx, t, n, structs.JobCompleted, 0, "ok\n") },
			code: 0, out: "2\n"},
		{args: []string{"submit", "--app", "solver", "-p", "n1", "--wait"},
			end: func(n string) {
				if _, err := u.adm.CancelJob(ctx, n, ""); err != nil {
					t.Fatal(err)
				}
			},
			code: 1, inErr: "ended CANCELED"},
		{args: []string{"sbatch", "--image", "i:1", "--wait", "-o", "json", path},
			end:  func(n string) { u.place(ctx, t, 8); u.report(ctx, t, n, structs.JobCompletedWithError, 300, "") },
			code: 1, out: `"state": "COMPLETED_WITH_ERROR"`},
	}
	for i, tc := range cases {
		n := strconv.Itoa(i + 1)
		done := start(tc.args...)
		waitJob(n)
		select {
		case e := <-done:
			t.Fatalf("%v returned before the job ended: %+v", tc.args, e)
		default:
		}
		j, _ := findJob(ctx, u.adm, n)
		tc.end(j.ID)
		e := get(done)
		if e.code != tc.code || !strings.Contains(e.out, tc.out) || !strings.Contains(e.errs, tc.inErr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, e.code, e.out, e.errs, tc.code, tc.out, tc.inErr)
		}
	}
}

// TestWaitHubGone: --wait exits 5 when the hub stops answering while it
// waits (a script retries or looks: the job may still run).
func TestWaitHubGone(t *testing.T) {
	u, ctx := userHubWithin(t, 60*time.Second)
	done := make(chan result, 1)
	go func() {
		var out, errb lockedBuffer
		code := Run(ctx, []string{"submit", "--app", "solver", "-p", "n1", "--wait", "--timeout", "2s"}, &out, &errb,
			func(k string) string { return u.env[k] })
		done <- result{code: code, stdout: out.String(), stderr: errb.String()}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := findJob(ctx, u.adm, "1"); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the job was not submitted")
		case <-tick.C:
		}
	}
	u.c.Kill(0)
	select {
	case r := <-done:
		r.check(t, ExitUnreachable, "cannot reach the hub")
	case <-ctx.Done():
		t.Fatal("--wait did not return when the hub went away")
	}
}

// TestAppsListHidesBatchApps: admin apps list leaves out the batch apps
// the user's job scripts made; --all lists them too.
func TestAppsListHidesBatchApps(t *testing.T) {
	u := newUserHub(t)
	path := writeFile(t, "job.sh", "#!/bin/sh\n#SBATCH -p n1\ntrue\n")
	runCLI(t, u.env, "sbatch", "--image", "ubuntu:24.04", path).check(t, ExitOK, "Submitted batch job 1\n")
	if r := runCLI(t, u.env, "admin", "apps", "list"); r.code != ExitOK || !strings.Contains(r.stdout, "solver") || strings.Contains(r.stdout, "batch-") {
		t.Errorf("apps list: exit %d, want solver and no batch app:\n%s%s", r.code, r.stdout, r.stderr)
	}
	runCLI(t, u.env, "admin", "apps", "list", "--all").check(t, ExitOK, "solver", "batch-", "ubuntu:24.04")
}
