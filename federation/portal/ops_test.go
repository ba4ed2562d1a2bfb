package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/portal"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestPortalAuditAndAccounting: a tenant administrator's audit page lists
// their tenant's events (the sign-in among them) and filters them; a user
// gets 403 there; the accounting page sums the user's finished jobs and
// its CSV link downloads them.
func TestPortalAuditAndAccounting(t *testing.T) {
	ctx, hubs, adm := startHubs(t, 1)
	seedUser(ctx, t, adm, "acme", "ann")
	if _, err := adm.PutUser(ctx, "boss", &structs.UserSpec{Tenant: "acme", Role: structs.RoleAdmin, Password: "pw-boss-secret"}); err != nil {
		t.Fatal(err)
	}
	seedCatalog(ctx, t, adm, structs.MachineType{Name: "n1", Cores: 4, Slots: 4, RAM: 8, ScaleMax: 2, Price: 3}, pubApp())
	ann := newBrowser(t, hubs.URL(0))
	csrf := ann.login("ann", "pw-ann-secret")
	jobPath := ann.submitRun("pub", csrf)
	if code, _, _ := ann.do("POST", jobPath+"/cancel", url.Values{"csrf": {csrf}, "verb": {"cancel"}}); code != http.StatusSeeOther {
		t.Fatalf("cancel from the portal: %d", code)
	}
	jobID := strings.TrimPrefix(jobPath, "/ui/jobs/")

	// ann's accounting page sums her one job; the CSV link downloads it.
	code, page, _ := ann.do("GET", "/ui/accounting?group=user,machine_type", nil)
	if code != 200 || !strings.Contains(page, "<td>ann</td><td>n1</td><td>1</td>") {
		t.Errorf("accounting page: %d\n%s", code, page)
	}
	code, csvBody, hdr := ann.do("GET", "/ui/accounting.csv", nil)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(csvBody, jobID+",") || !strings.Contains(csvBody, "CANCELED") {
		t.Errorf("CSV download: %d %v\n%s", code, hdr, csvBody)
	}
	if code, _, _ := ann.do("GET", "/ui/accounting?start=tomorrow", nil); code != http.StatusBadRequest {
		t.Errorf("accounting with a bad start: %d, want 400", code)
	}
	// ann may not read the audit trail.
	if code, _, _ := ann.do("GET", "/ui/admin/audit", nil); code != http.StatusForbidden {
		t.Errorf("a user's audit page: %d, want 403", code)
	}

	// The tenant's administrator sees ann's sign-in and job actions, from
	// the browser's address, and filters them.
	boss := newBrowser(t, hubs.URL(0))
	boss.login("boss", "pw-boss-secret")
	code, page, _ = boss.do("GET", "/ui/admin/audit", nil)
	for _, want := range []string{"session.login", "job.submit", "job.cancel", "job/" + jobID, "127.0.0.1", `<label for="actor">`} {
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("audit page (%d) lacks %q", code, want)
		}
	}
	if strings.Contains(page, "user.create") {
		t.Error("the tenant administrator sees the system administrator's events")
	}
	_, page, _ = boss.do("GET", "/ui/admin/audit?action=job.cancel", nil)
	if strings.Contains(page, "job.submit") || !strings.Contains(page, "job.cancel") {
		t.Errorf("filtered audit page:\n%s", page)
	}
	if code, _, _ := boss.do("GET", "/ui/admin/audit?since=soon", nil); code != http.StatusBadRequest {
		t.Errorf("audit page with a bad since: %d, want 400", code)
	}
}

// TestPortalClaimRules: the configuration's sign-in rules show until a
// system administrator edits them; the first edit stores them (seeded
// from the file) and the edit in the replicated state, which the API
// lists in the order they apply; a rule is deleted from the page; bad
// rules are refused with the reason; users may neither see nor edit them.
func TestPortalClaimRules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hubs := hubtest.New(t, 1, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) {
		cfg.Portal.OIDC = &portal.OIDCConfig{Issuer: "http://127.0.0.1:1/dex", ClientID: "flotilla", RedirectURL: "http://127.0.0.1/ui/oidc/callback",
			Rules: []portal.ClaimRule{{Name: "physicists", Email: "*@physics.example", Tenant: "physics"}}}
	}})
	if _, err := hubs.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	adm, err := client.New(hubs.URLs(), hubs.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	seedUser(ctx, t, adm, "physics", "ann")
	if _, err := adm.PutUser(ctx, "root", &structs.UserSpec{Tenant: "system", Role: structs.RoleAdmin, Password: "pw-root-secret"}); err != nil {
		t.Fatal(err)
	}
	if rules, err := adm.ListClaimRules(ctx); err != nil || len(rules) != 0 {
		t.Fatalf("stored rules before any edit: %v, %v", rules, err)
	}
	root := newBrowser(t, hubs.URL(0))
	csrf := root.login("root", "pw-root-secret")
	code, page, _ := root.do("GET", "/ui/admin/claimrules", nil)
	if code != 200 || !strings.Contains(page, "physicists") || !strings.Contains(page, "configuration file") {
		t.Fatalf("claim rules page: %d\n%s", code, page)
	}
	if code, page, _ := root.do("POST", "/ui/admin/claimrules", url.Values{"csrf": {csrf}, "name": {"bad"}, "email": {"["}, "tenant": {"physics"}}); code != http.StatusBadRequest || !strings.Contains(page, "email pattern") {
		t.Errorf("a bad rule: %d", code)
	}
	code, _, _ = root.do("POST", "/ui/admin/claimrules", url.Values{"csrf": {csrf}, "name": {"chemists"}, "priority": {"5"},
		"email": {"*@chem.example"}, "tenant": {"physics"}, "teams": {"lab, bench"}, "role": {"team-admin"}})
	if code != http.StatusSeeOther {
		t.Fatalf("save rule: %d", code)
	}
	rules, err := adm.ListClaimRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		got = append(got, r.Name+"@"+r.Tenant+":"+strings.Join(r.Teams, "+")+":"+string(r.Role))
	}
	if want := []string{"physicists@physics::", "chemists@physics:lab+bench:team-admin"}; !slices.Equal(got, want) {
		t.Errorf("stored rules %v, want %v (seeded one first by priority)", got, want)
	}
	if code, _, _ := root.do("POST", "/ui/admin/claimrules/physicists/delete", url.Values{"csrf": {csrf}}); code != http.StatusSeeOther {
		t.Fatalf("delete rule: %d", code)
	}
	_, page, _ = root.do("GET", "/ui/admin/claimrules", nil)
	if strings.Contains(page, "physicists") || !strings.Contains(page, "chemists") || strings.Contains(page, "configuration file") {
		t.Errorf("claim rules page after the delete:\n%s", page)
	}
	if rules, _ := adm.ListClaimRules(ctx); len(rules) != 1 {
		t.Errorf("%d stored rules after the delete, want 1 (the file does not seed again)", len(rules))
	}
	ann := newBrowser(t, hubs.URL(0))
	annCSRF := ann.login("ann", "pw-ann-secret")
	if code, _, _ := ann.do("GET", "/ui/admin/claimrules", nil); code != http.StatusForbidden {
		t.Errorf("a user's claim rules page: %d, want 403", code)
	}
	if code, _, _ := ann.do("POST", "/ui/admin/claimrules", url.Values{"csrf": {annCSRF}, "name": {"mine"}, "tenant": {"physics"}}); code != http.StatusForbidden {
		t.Errorf("a user saving a claim rule: %d, want 403", code)
	}
}
