package portal

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// controlRoles are the accessibility roles of form controls.
var controlRoles = map[string]bool{"textbox": true, "spinbutton": true, "combobox": true, "checkbox": true,
	"radio": true, "slider": true, "button": true, "searchbox": true, "listbox": true, "switch": true, "link": true}

// unnamedControls lists the form controls of the current page that have
// no accessible name in Chromium's accessibility tree.
func unnamedControls(t *testing.T, ctx context.Context) (controls int, unnamed []string) {
	t.Helper()
	tree, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tree.Nodes {
		if n.Ignored || n.Role == nil {
			continue
		}
		role := strings.Trim(string(n.Role.Value), `"`)
		if !controlRoles[role] {
			continue
		}
		controls++
		name := ""
		if n.Name != nil {
			name = strings.Trim(string(n.Name.Value), `" `)
		}
		if name == "" {
			unnamed = append(unnamed, fmt.Sprintf("%s (node %s)", role, n.NodeID))
		}
	}
	return controls, unnamed
}

// activeID is the id of the focused element and whether its focus ring
// shows (an outline wider than zero).
func activeID(t *testing.T, ctx context.Context) (id string, ring bool) {
	t.Helper()
	v := value(t, ctx, "focused element", chromedp.Evaluate[string](
		`(function(){var e=document.activeElement;var s=getComputedStyle(e);return (e.id||e.tagName)+"|"+s.outlineStyle+"|"+s.outlineWidth})()`))
	parts := strings.Split(v, "|")
	return parts[0], len(parts) == 3 && parts[1] != "none" && parts[2] != "0px"
}

func key(t *testing.T, ctx context.Context, k string) {
	t.Helper()
	run(t, ctx, fmt.Sprintf("key %q", k), chromedp.KeyEvent(k))
}

// TestPortalKeyboardOnly: a job is submitted with the keyboard alone —
// sign-in, form, submit — with a visible focus ring on every control
// reached; every form control of the portal's pages has an accessible
// name in Chromium's accessibility tree.
func TestPortalKeyboardOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startSite(t, 1, false)
	base := s.hubs.URL(0)
	pw := s.seedUser(ctx, "acme", "kim", structs.RoleUser)
	rootPW := s.seedUser(ctx, "system", "root", structs.RoleAdmin)
	s.seedCatalog(ctx, "acme", "cfd")
	b := newBrowser(t)

	// Sign in: Tab to the fields, type, Enter.
	run(t, b, "login page", chromedp.Navigate(base+"/ui/login"), chromedp.WaitVisible(chromedp.CSS("#username")))
	tabTo := func(id string, max int) {
		t.Helper()
		for range max {
			key(t, b, "\t")
			got, ring := activeID(t, b)
			if got == id {
				if !ring {
					t.Errorf("#%s has focus but no visible focus ring", id)
				}
				return
			}
		}
		t.Fatalf("Tab never reached #%s", id)
	}
	tabTo("username", 10)
	key(t, b, "kim")
	tabTo("password", 3)
	key(t, b, pw)
	key(t, b, "\r")
	run(t, b, "jobs page", chromedp.WaitVisible(chromedp.CSS("#jobs-table")))

	// The form: type a case name, leave the defaults, toggle the BOOL with
	// Space, submit with Enter on the button.
	run(t, b, "form", chromedp.Navigate(base+"/ui/apps/cfd/submit?command=run"), chromedp.WaitVisible(chromedp.CSS("#submit-form")))
	n, unnamed := unnamedControls(t, b)
	if len(unnamed) > 0 || n < 8 {
		t.Errorf("submit form: %d controls, unnamed: %v", n, unnamed)
	}
	tabTo("p-case", 30)
	key(t, b, "keyboard-case")
	tabTo("p-verbose", 6)
	key(t, b, " ")
	tabTo("submit-job", 20)
	shot(t, b, "01-form-keyboard")
	key(t, b, "\r")
	run(t, b, "job page", chromedp.WaitVisible(chromedp.CSS("#job-status")))
	shot(t, b, "02-job")
	jobs, err := s.admin.ListJobs(ctx, client.JobQuery{Owner: "kim"})
	if err != nil || len(jobs.Jobs) != 1 {
		t.Fatalf("kim's jobs: %+v %v", jobs, err)
	}
	if p := jobs.Jobs[0].Parameters; p["case"] != "keyboard-case" || p["verbose"] != "true" || p["iterations"] != "100" {
		t.Errorf("submitted parameters %v", p)
	}

	// Every control on the other pages has a name too.
	for _, path := range []string{"/ui/jobs", "/ui/catalog", "/ui/keys", "/ui/apps/cfd", jobsPath(jobs.Jobs[0])} {
		run(t, b, path, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("main")))
		if _, unnamed := unnamedControls(t, b); len(unnamed) > 0 {
			t.Errorf("%s: unnamed controls %v", path, unnamed)
		}
	}
	adm := newBrowser(t)
	loginLocal(t, adm, base, "root", rootPW)
	for _, path := range []string{"/ui/admin", "/ui/admin/clusters", "/ui/admin/machinetypes", "/ui/admin/burstrules",
		"/ui/admin/limits", "/ui/admin/tenancy", "/ui/admin/access"} {
		run(t, adm, path, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("main")))
		if _, unnamed := unnamedControls(t, adm); len(unnamed) > 0 {
			t.Errorf("%s: unnamed controls %v", path, unnamed)
		}
	}
	shot(t, adm, "03-admin-access")
}

func jobsPath(j *structs.Job) string { return "/ui/jobs/" + j.ID }
