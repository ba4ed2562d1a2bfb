package portal_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// secretValue is an environment value no page may ever show.
const secretValue = "s3cret-token-value-42"

var jobIDRE = regexp.MustCompile(`name="job_id" value="(j-[^"]+)"`)

// submitForm reads the submit form of app and returns it with the
// fields a browser sends unchanged (csrf, command, job id).
func (b *browser) submitForm(app string) (string, url.Values) {
	b.t.Helper()
	code, page, _ := b.do("GET", "/ui/apps/"+app+"/submit", nil)
	if code != 200 {
		b.t.Fatalf("submit form: %d\n%s", code, page)
	}
	m := jobIDRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no job id in the form:\n%s", page)
	}
	return page, url.Values{"csrf": {csrfIn(b.t, page)}, "command": {"run"}, "job_id": {m[1]},
		"machine_type": {"n1"}, "nodes": {"1"}}
}

// TestPortalSubmitDependencyEnvWorkdir: the submit form has the
// dependency (offering the user's jobs), environment and working
// directory fields and the array field; it refuses what the API refuses
// with the message next to the field, keeps the input (never an
// environment value) and submits nothing; a valid form makes the job the
// API would, and its page says what the job waits for in words, the
// variables' names only and the working directory.
func TestPortalSubmitDependencyEnvWorkdir(t *testing.T) {
	ctx, hubs, adm := startHubs(t, 1)
	seedUser(ctx, t, adm, "acme", "ann")
	seedCatalog(ctx, t, adm, n1, solverApp())
	b := newBrowser(t, hubs.URL(0))
	b.login("ann", "pw-ann-secret")

	// A first job, to depend on.
	_, form := b.submitForm("solver")
	if code, body, h := b.do("POST", "/ui/apps/solver/submit", form); code != http.StatusSeeOther {
		t.Fatalf("first job: %d %s\n%s", code, h.Get("Location"), body)
	}
	first, err := adm.GetJob(ctx, form.Get("job_id"), true)
	if err != nil {
		t.Fatal(err)
	}

	page, form := b.submitForm("solver")
	for _, want := range []string{`id="dependency"`, `id="walltime"`, `<option value="highest" >highest</option>`, `<option value="afterok:1">1 ` + first.Name + ` (QUEUED)`,
		`id="workdir"`, `name="env_name"`, `name="env_value" type="password"`, `id="array"`, `id="task_retries"`,
		`id="task_walltime"`, `<select id="cpu_bind" name="cpu_bind"`, `<option value="slots" >slots</option>`} {
		if !strings.Contains(page, want) {
			t.Errorf("submit form lacks %q", want)
		}
	}

	// Refused in the form, each field with the API's message.
	bad := map[string]struct {
		set  url.Values
		want []string
	}{
		"env name": {url.Values{"env_name": {"1BAD", "GOOD"}, "env_value": {"x", secretValue}},
			[]string{`&#34;1BAD&#34;: not a POSIX name ([A-Za-z_][A-Za-z0-9_]*).`, `value="1BAD"`, `value="GOOD"`, "Enter the value again"}},
		"reserved name": {url.Values{"env_name": {"SLURM_JOB_ID"}, "env_value": {secretValue}},
			[]string{`&#34;SLURM_JOB_ID&#34;: SLURM_* variables are set by Flotilla.`}},
		"twice":              {url.Values{"env_name": {"A", "A"}, "env_value": {secretValue, "y"}}, []string{"A is set twice."}},
		"value without name": {url.Values{"env_name": {""}, "env_value": {secretValue}}, []string{"A value needs a name."}},
		"newline in value": {url.Values{"env_name": {"TOKEN"}, "env_value": {secretValue + "\nmore"}},
			[]string{`Environment: &#34;TOKEN&#34;: value holds a NUL byte or a newline.`, `value="TOKEN"`}},
		"workdir": {url.Values{"workdir": {"scratch/run"}, "env_name": {"TOKEN"}, "env_value": {secretValue}},
			[]string{`Working directory: &#34;scratch/run&#34;: is not absolute.`, `value="scratch/run"`}},
		"dependency": {url.Values{"dependency": {"afterfoo:1"}, "env_name": {"TOKEN"}, "env_value": {secretValue}},
			[]string{`Dependency: &#34;afterfoo:1&#34;: unknown type &#34;afterfoo&#34;`, `value="afterfoo:1"`}},
		"singleton": {url.Values{"dependency": {"singleton"}}, []string{`singleton is not supported`}},
		"priority":  {url.Values{"priority": {"urgent"}}, []string{`Priority: choose normal, high or highest.`}},
		"array list": {url.Values{"array": {"1,,3%2"}}, []string{`<span class="field-error" id="e-array" aria-live="polite">Array: want`,
			`part &#34;&#34;: is empty`, `value="1,,3%2"`}},
		"cpu binding": {url.Values{"array": {"1-4"}, "cpu_bind": {"cores"}},
			[]string{`<span class="field-error" id="e-cpu_bind" aria-live="polite">CPU binding: want none or slots.</span>`, `value="1-4"`}},
		"cpu binding, no array": {url.Values{"cpu_bind": {"slots"}}, []string{`CPU binding: needs an array.`, `<option value="slots" selected>`}},
		"cpu binding and its variable": {url.Values{"array": {"1-4"}, "cpu_bind": {"slots"}, "env_name": {structs.ArrayTaskCPUBindVar}, "env_value": {"none"}},
			[]string{`CPU binding: differs from the variable ARRAY_TASK_CPU_BIND in env.`}},
		"binding variable": {url.Values{"array": {"1-4"}, "env_name": {structs.ArrayTaskCPUBindVar}, "env_value": {"cores"}},
			[]string{`Environment: ARRAY_TASK_CPU_BIND: want none or slots.`}},
		"task walltime": {url.Values{"array": {"1-4"}, "task_walltime": {"1-25:00"}},
			[]string{`<span class="field-error" id="e-task_walltime" aria-live="polite">Task walltime: &#34;1-25:00&#34;: want MM`, `value="1-25:00"`}},
		"task walltime, no array": {url.Values{"task_walltime": {"10:00"}}, []string{`Task walltime needs an array.`}},
		"walltime": {url.Values{"walltime": {"1-25:00"}, "priority": {"high"}},
			[]string{`Walltime: &#34;1-25:00&#34;: want MM, MM:SS, HH:MM:SS, D-HH`, `value="1-25:00"`, `<option value="high" selected>`}},
	}
	for name, tc := range bad {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		for k, v := range tc.set {
			f[k] = v
		}
		code, body, _ := b.do("POST", "/ui/apps/solver/submit", f)
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, code)
		}
		for _, want := range append(tc.want, "The form has errors; nothing was submitted.") {
			if !strings.Contains(body, want) {
				t.Errorf("%s: page lacks %q", name, want)
			}
		}
		if strings.Contains(body, secretValue) {
			t.Errorf("%s: the page shows an environment value", name)
		}
	}
	// The hub refuses a dependency on a job that does not exist: its
	// message, the input kept, nothing submitted.
	f := url.Values{"dependency": {"afterok:999"}, "workdir": {"/scratch/run"}, "env_name": {"TOKEN"}, "env_value": {secretValue}}
	for k, v := range form {
		f[k] = v
	}
	code, body, _ := b.do("POST", "/ui/apps/solver/submit", f)
	if code != http.StatusBadRequest || !strings.Contains(body, "The hub refused the job") || !strings.Contains(body, "job 999 not found") ||
		!strings.Contains(body, `value="afterok:999"`) || !strings.Contains(body, `value="/scratch/run"`) || strings.Contains(body, secretValue) {
		t.Errorf("dependency on a missing job: %d\n%s", code, body)
	}
	if _, err := adm.GetJob(ctx, form.Get("job_id"), true); err == nil {
		t.Fatal("a refused form submitted a job")
	}

	// Valid: the job the API would make.
	f = url.Values{"dependency": {"afterok:1"}, "workdir": {"/scratch/run"}, "walltime": {"1-12:00"}, "priority": {"high"},
		"env_name":  {"TOKEN", "MODE", ""},
		"env_value": {secretValue, "fast=yes,really", ""}}
	for k, v := range form {
		f[k] = v
	}
	code, body, h := b.do("POST", "/ui/apps/solver/submit", f)
	if code != http.StatusSeeOther || h.Get("Location") != "/ui/jobs/"+form.Get("job_id") {
		t.Fatalf("submit: %d %s\n%s", code, h.Get("Location"), body)
	}
	j, err := adm.GetJob(ctx, form.Get("job_id"), true)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != structs.JobHeld || j.Dependency.String() != "afterok:1" || j.Workdir != "/scratch/run" ||
		len(j.Env) != 2 || j.Env["TOKEN"] != secretValue || j.Env["MODE"] != "fast=yes,really" {
		t.Fatalf("job as submitted: state %s dependency %q workdir %q env %d vars", j.State, j.Dependency, j.Workdir, len(j.Env))
	}
	if j.Walltime != structs.Duration(36*time.Hour) || j.Priority != structs.PriorityHigh {
		t.Errorf("job as submitted: walltime %v priority %q, want 36h and high", j.Walltime, j.Priority)
	}
	// An array with its task fields: the binding reaches the job exactly
	// as --task-cpu-bind (the job variable), the walltime per task too.
	_, form = b.submitForm("solver")
	form.Set("array", "1-4%2")
	form.Set("task_retries", "1")
	form.Set("task_walltime", "10:00")
	form.Set("cpu_bind", "slots")
	if code, body, _ := b.do("POST", "/ui/apps/solver/submit", form); code != http.StatusSeeOther {
		t.Fatalf("array submit: %d\n%s", code, body)
	}
	aj, err := adm.GetJob(ctx, form.Get("job_id"), true)
	if err != nil {
		t.Fatal(err)
	}
	if aj.Array == nil || aj.Array.Spec.String() != "1-4%2" || aj.Array.TaskRetries != 1 || aj.Array.TaskWalltime != structs.Duration(10*time.Minute) ||
		aj.TaskCPUBind() != structs.TaskCPUBindSlots || aj.Env[structs.ArrayTaskCPUBindVar] != structs.TaskCPUBindSlots {
		t.Errorf("array job as submitted: %+v, binding %q", aj.Array, aj.TaskCPUBind())
	}
	if _, page, _ := b.do("GET", "/ui/jobs/"+aj.ID, nil); !strings.Contains(page, `<p id="job-array-spec">1-4%2, 1 retry per task, 10m0s per task, CPU binding slots</p>`) {
		t.Errorf("array job page lacks its task fields:\n%s", page)
	}

	for _, path := range []string{"/ui/jobs/" + j.ID, "/ui/jobs/" + j.ID + "/status"} {
		code, page, _ := b.do("GET", path, nil)
		if code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
		if strings.Contains(page, secretValue) || strings.Contains(page, "fast=yes") {
			t.Errorf("%s shows an environment value", path)
		}
		wants := []string{`<dd id="job-reason">held: waiting for job 1 to succeed</dd>`,
			`<a href="/ui/jobs/` + first.ID + `">job 1</a> is QUEUED — waiting`}
		if path == "/ui/jobs/"+j.ID {
			wants = append(wants, `<dd id="job-workdir"><code>/scratch/run</code></dd>`, `<dd id="job-env">MODE, TOKEN <span`)
		}
		for _, want := range wants {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
	}
}
