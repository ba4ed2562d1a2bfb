package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestPortalSubmitSignalAt: the submit form's optional "Signal before the
// walltime ends" field refuses what the API refuses (a bad signal, no
// walltime, a TIME not shorter than it) next to the field, keeping the
// input and submitting nothing; a valid one makes the job the API would.
func TestPortalSubmitSignalAt(t *testing.T) {
	ctx, hubs, adm := startHubs(t, 1)
	seedUser(ctx, t, adm, "acme", "ann")
	if _, err := adm.PutCluster(ctx, "east", &structs.ClusterSpec{}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutMachineType(ctx, &structs.MachineType{Name: "n1", Cores: 4, Slots: 4, RAM: 16, ScaleMin: 1, ScaleMax: 8, Cluster: "east"}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "registry/solver:1",
		AppDef: structs.AppDef{Name: "Solver", Commands: map[string]structs.Command{"run": {Path: "/run.sh", Name: "Run"}}}}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, hubs.URL(0))
	b.login("ann", "pw-ann-secret")
	page, form := b.submitForm("solver")
	if !strings.Contains(page, `id="signal" name="signal"`) || !strings.Contains(page, `<label for="signal">Signal before the walltime ends</label>`) {
		t.Errorf("submit form lacks the signal field")
	}
	with := func(set url.Values) url.Values {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		for k, v := range set {
			f[k] = v
		}
		return f
	}
	for name, tc := range map[string]struct {
		set  url.Values
		want string
	}{
		"no walltime": {url.Values{"signal": {"USR1@10"}}, `Signal: needs a walltime`},
		"bad name":    {url.Values{"signal": {"USR9"}, "walltime": {"1:00:00"}}, `Signal: signal &#34;USR9&#34;: not a signal name (USR1`},
		"too long":    {url.Values{"signal": {"B:USR1@120"}, "walltime": {"2"}}, `Signal: TIME 120 s is not shorter than the walltime`},
	} {
		code, body, _ := b.do("POST", "/ui/apps/solver/submit", with(tc.set))
		if code != http.StatusBadRequest || !strings.Contains(body, `<span class="field-error" id="e-signal" aria-live="polite">`+tc.want) ||
			!strings.Contains(body, `value="`+tc.set.Get("signal")+`"`) {
			t.Errorf("%s: %d, want 400 with %q next to the field and the input kept\n%s", name, code, tc.want, body)
		}
	}
	if _, err := adm.GetJob(ctx, form.Get("job_id"), true); err == nil {
		t.Fatal("a refused form submitted a job")
	}
	code, body, h := b.do("POST", "/ui/apps/solver/submit", with(url.Values{"signal": {"b:sigusr1@120"}, "walltime": {"1:00:00"}}))
	if code != http.StatusSeeOther || h.Get("Location") != "/ui/jobs/"+form.Get("job_id") {
		t.Fatalf("submit: %d %s\n%s", code, h.Get("Location"), body)
	}
	j, err := adm.GetJob(ctx, form.Get("job_id"), true)
	if err != nil {
		t.Fatal(err)
	}
	if j.Env[structs.JobSignalAtVar] != "B:USR1@120" {
		t.Errorf("job carries %q, want B:USR1@120", j.Env[structs.JobSignalAtVar])
	}
	if code, page, _ := b.do("GET", "/ui/jobs/"+j.ID, nil); code != 200 ||
		!strings.Contains(page, `<dd id="job-signal-at">USR1 120 s before the walltime ends (main process)</dd>`) || strings.Contains(page, `id="job-suspended"`) {
		t.Errorf("job page: %d\n%s", code, page)
	}
}
