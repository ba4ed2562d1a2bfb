package portal

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestPortalEnvironmentRows: in a real browser, "Add variable" adds an
// environment row, the request preview hides every value (and says a
// Slurm-form walltime is converted when sent), the array's task fields
// (task walltime, CPU binding) show and are sent only with an array, and
// the job
// submitted from the form gets its variables, working directory and
// dependency while its page names the variables only.
func TestPortalEnvironmentRows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := startSite(t, 1, false)
	pw := s.seedUser(ctx, "physics", "pia", structs.RoleUser)
	s.seedCatalog(ctx, "physics", "cfd")
	base := s.hubs.URL(0)
	const secret = "tok-7f3e9-secret"

	b := newBrowser(t)
	loginLocal(t, b, base, "pia", pw)
	run(t, b, "first job", chromedp.Navigate(base+"/ui/apps/cfd/submit?command=run"), chromedp.WaitVisible(chromedp.CSS("#p-case")),
		chromedp.SendKeys(chromedp.CSS("#p-case"), "first"), chromedp.Click(chromedp.CSS("#submit-job")),
		chromedp.WaitVisible(chromedp.CSS("#job-status")))
	run(t, b, "form", chromedp.Navigate(base+"/ui/apps/cfd/submit?command=run"), chromedp.WaitVisible(chromedp.CSS("#env-name-0")),
		chromedp.SendKeys(chromedp.CSS("#p-case"), "second"),
		chromedp.SendKeys(chromedp.CSS("#dependency"), "afterany:1"),
		chromedp.SendKeys(chromedp.CSS("#workdir"), "/scratch/pia"),
		chromedp.SendKeys(chromedp.CSS("#walltime"), "1-12:00"),
		chromedp.SendKeys(chromedp.CSS("#env-name-0"), "TOKEN"), chromedp.SendKeys(chromedp.CSS("#env-value-0"), secret),
		chromedp.SendKeys(chromedp.CSS("#env-name-1"), "MODE"), chromedp.SendKeys(chromedp.CSS("#env-value-1"), "fast"),
		chromedp.Click(chromedp.CSS("#env-add")), chromedp.WaitVisible(chromedp.CSS("#env-name-2")),
		chromedp.SendKeys(chromedp.CSS("#env-name-2"), "THIRD"), chromedp.SendKeys(chromedp.CSS("#env-value-2"), "3"))
	// The array's task fields show, and go into the request, only with
	// an array.
	arrayFields := func() (shown bool, preview string) {
		t.Helper()
		run(t, b, "preview", chromedp.Click(chromedp.CSS("#preview-button")))
		return value(t, b, "task fields shown", chromedp.Evaluate[bool](`!document.getElementById("array-task-fields").hidden && !document.getElementById("cpu_bind").disabled`)),
			text(t, b, "#preview")
	}
	if shown, p := arrayFields(); shown || strings.Contains(p, "task_cpu_bind") {
		t.Errorf("without an array the task fields are shown (%v) or sent:\n%s", shown, p)
	}
	run(t, b, "an array with its task fields", chromedp.SendKeys(chromedp.CSS("#array"), "1-3"), chromedp.WaitVisible(chromedp.CSS("#cpu_bind")),
		chromedp.SetValue(chromedp.CSS("#cpu_bind"), "slots"), chromedp.SendKeys(chromedp.CSS("#task_walltime"), "05:00"))
	if shown, p := arrayFields(); !shown || !strings.Contains(p, `"task_cpu_bind": "slots"`) || !strings.Contains(p, `"task_walltime": "(05:00, converted when sent)"`) {
		t.Errorf("with an array the task fields are hidden (%v) or not sent:\n%s", !shown, p)
	}
	run(t, b, "the array cleared", chromedp.SendKeys(chromedp.CSS("#array"), "\b\b\b"), chromedp.WaitNotVisible(chromedp.CSS("#cpu_bind")))
	if shown, p := arrayFields(); shown || strings.Contains(p, "task_") || strings.Contains(p, `"array"`) {
		t.Errorf("with the array cleared the task fields are shown (%v) or sent:\n%s", shown, p)
	}
	shot(t, b, "env-form")
	preview := text(t, b, "#preview")
	for _, want := range []string{`"dependency": "afterany:1"`, `"workdir": "/scratch/pia"`, `"TOKEN": "(hidden)"`, `"THIRD": "(hidden)"`,
		`"walltime": "(1-12:00, converted when sent)"`} {
		if !strings.Contains(preview, want) {
			t.Errorf("preview lacks %s:\n%s", want, preview)
		}
	}
	if strings.Contains(preview, secret) {
		t.Errorf("the preview shows an environment value:\n%s", preview)
	}
	run(t, b, "submit", chromedp.Click(chromedp.CSS("#submit-job")), chromedp.WaitVisible(chromedp.CSS("#job-env")))
	if env := text(t, b, "#job-env"); !strings.HasPrefix(env, "MODE, THIRD, TOKEN") {
		t.Errorf("job page environment: %q", env)
	}
	shot(t, b, "env-job")
	loc := value(t, b, "location", chromedp.Location())
	id := loc[strings.LastIndex(loc, "/")+1:]
	j, err := s.admin.GetJob(ctx, id, true)
	if err != nil {
		t.Fatal(err)
	}
	if j.Env["TOKEN"] != secret || j.Env["MODE"] != "fast" || j.Env["THIRD"] != "3" || j.Workdir != "/scratch/pia" || j.Dependency.String() != "afterany:1" ||
		j.Walltime != structs.Duration(36*time.Hour) {
		t.Errorf("job as submitted: %d variables, workdir %q, dependency %q, walltime %v", len(j.Env), j.Workdir, j.Dependency, j.Walltime)
	}
	html := value(t, b, "page", chromedp.OuterHTML(chromedp.CSS("html")))
	if strings.Contains(html, secret) {
		t.Error("the job page shows an environment value")
	}
}
