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
// Slurm-form walltime is converted when sent), and the job
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
		chromedp.SendKeys(chromedp.CSS("#env-name-2"), "THIRD"), chromedp.SendKeys(chromedp.CSS("#env-value-2"), "3"),
		chromedp.Click(chromedp.CSS("#preview-button")))
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
