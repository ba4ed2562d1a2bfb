package portal_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestPortalScriptJobs: the batch app a job script made is not a card
// of its owner's catalog (the apps registered are); the job page of a
// script job shows the image, the script (escaped) and its arguments in
// place of the batch app, and a job of another app shows no script.
func TestPortalScriptJobs(t *testing.T) {
	ctx, hubs, adm := startHubs(t, 1)
	seedUser(ctx, t, adm, "acme", "ann")
	seedCatalog(ctx, t, adm, n1, solverApp())
	ann := userClient(ctx, t, hubs, adm, "ann")
	script := "#!/bin/sh\n#SBATCH -N 1\necho \"sum<1>\"\n"
	sj, err := ann.SubmitJob(ctx, structs.JobSubmitRequest{Script: script, Image: "ubuntu:24.04", ScriptArgs: []string{"a b", "c"},
		MachineType: "n1", Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ann.SubmitJob(ctx, structs.JobSubmitRequest{App: "solver", MachineType: "n1", Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, hubs.URL(0))
	b.login("ann", "pw-ann-secret")
	code, page, _ := b.do("GET", "/ui/catalog", nil)
	if code != 200 || !strings.Contains(page, `id="app-solver"`) || strings.Contains(page, sj.App) || strings.Contains(page, "batch ubuntu") {
		t.Errorf("catalog %d: want the registered app and no batch app %s:\n%s", code, sj.App, page)
	}

	// The batch app by its URL: no page, no form, and a POST of a form
	// submits nothing; its owner is told how its jobs are submitted,
	// another user only that it is not found.
	for _, path := range []string{"/ui/apps/" + sj.App, "/ui/apps/" + sj.App + "/submit"} {
		code, page, _ = b.do("GET", path, nil)
		if code != http.StatusNotFound || !strings.Contains(page, "is the batch app of your job scripts in ubuntu:24.04, which has no form") ||
			!strings.Contains(page, "flotilla sbatch") || strings.Contains(page, `id="submit-form"`) {
			t.Errorf("GET %s: %d, want 404 saying how a batch app's jobs are submitted:\n%s", path, code, page)
		}
	}
	_, jobsPage, _ := b.do("GET", "/ui/jobs", nil)
	post := url.Values{"csrf": {csrfIn(t, jobsPage)}, "command": {"batch"}, "job_id": {structs.NewJobID()}, "machine_type": {"n1"},
		"nodes": {"1"}, "p.args": {"x"}}
	if code, page, _ = b.do("POST", "/ui/apps/"+sj.App+"/submit", post); code != http.StatusNotFound || !strings.Contains(page, "has no form") {
		t.Errorf("POST of the batch app's form: %d, want 404:\n%s", code, page)
	}
	if _, err := adm.GetJob(ctx, post.Get("job_id"), true); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("the batch app's form submitted a job (%v)", err)
	}
	if l, err := adm.ListJobs(ctx, client.JobQuery{}); err != nil || len(l.Jobs) != 2 {
		t.Errorf("jobs after the batch app's form: %v, want the 2 submitted", err)
	}
	if _, err := adm.PutUser(ctx, "bob", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser, Password: "pw-bob-secret"}); err != nil {
		t.Fatal(err)
	}
	bob := newBrowser(t, hubs.URL(0))
	bob.login("bob", "pw-bob-secret")
	if code, page, _ = bob.do("GET", "/ui/apps/"+sj.App+"/submit", nil); code != http.StatusNotFound ||
		!strings.Contains(page, "app "+sj.App+" not found") || strings.Contains(page, "ubuntu") {
		t.Errorf("another user's GET of the batch app's form: %d, want a plain 404:\n%s", code, page)
	}

	code, page, _ = b.do("GET", "/ui/jobs/"+sj.ID, nil)
	if code != 200 {
		t.Fatalf("script job page: %d\n%s", code, page)
	}
	for _, want := range []string{
		`<pre class="output" id="job-script" tabindex="0" aria-labelledby="script-title">#!/bin/sh` + "\n#SBATCH -N 1\necho &#34;sum&lt;1&gt;&#34;\n</pre>",
		`<code id="job-script-args">&#39;a b&#39; &#39;c&#39;</code>`,
		`id="job-script-image">in image <code>ubuntu:24.04</code>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("script job page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "runs the job script") || strings.Contains(page, "flotilla-batch") {
		t.Errorf("script job page shows the batch app's runner:\n%s", page)
	}
	code, page, _ = b.do("GET", "/ui/jobs/"+plain.ID, nil)
	if code != 200 || strings.Contains(page, `id="job-script"`) || !strings.Contains(page, "solver · run") {
		t.Errorf("app job page %d: want the app and no script:\n%s", code, page)
	}
}
