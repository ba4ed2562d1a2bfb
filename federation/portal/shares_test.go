package portal_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestPortalShares: a running interactive job's page has the share links
// section; creating one shows its link once (the job's origin with the
// link's token) and lists it without the token afterwards; a bad expiry
// is refused with the reason and makes nothing; revoking removes it.
func TestPortalShares(t *testing.T) {
	ctx, hubs, adm := startHubs(t, 1)
	seedUser(ctx, t, adm, "acme", "ann")
	if _, err := adm.PutCluster(ctx, "east", &structs.ClusterSpec{}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutMachineType(ctx, &structs.MachineType{Name: "n1", Cores: 4, Slots: 4, RAM: 8, ScaleMax: 2, Cluster: "east"}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutApp(ctx, &structs.App{Name: "lab", Visibility: structs.VisibilityPublic,
		AppDef: structs.AppDef{Name: "Lab", Commands: map[string]structs.Command{"run": {Path: "/lab", Interactive: true, Ports: []string{"8888/tcp"}}}}}); err != nil {
		t.Fatal(err)
	}
	ann := newBrowser(t, hubs.URL(0))
	csrf := ann.login("ann", "pw-ann-secret")
	code, _, h := ann.do("POST", "/ui/apps/lab/submit", url.Values{"csrf": {csrf}, "command": {"run"}, "machine_type": {"n1"}, "nodes": {"1"}})
	if code != http.StatusSeeOther {
		t.Fatalf("submit from the portal: %d", code)
	}
	jobPath := h.Get("Location")
	jobID := strings.TrimPrefix(jobPath, "/ui/jobs/")
	if _, page, _ := ann.do("GET", jobPath, nil); strings.Contains(page, `id="share-form"`) {
		t.Error("a queued job's page has the share form")
	}
	for _, cmd := range []fsm.Command{
		&fsm.ClusterAgent{Cluster: "east", Agent: structs.AgentInfo{Features: []structs.AgentFeature{structs.FeatureJobShares}}},
		&fsm.JobAssignment{ID: jobID, Cluster: "east", Time: time.Now()},
		&fsm.JobStateUpdate{ID: jobID, Cluster: "east", State: structs.JobRunning, Time: time.Now(),
			ConnectURL: "https://j1.jobs.example/?flotilla_token=OWNERSECRET"},
	} {
		if _, err := hubs.Hub(0).Write(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	if _, page, _ := ann.do("GET", jobPath, nil); !strings.Contains(page, `id="share-form"`) || !strings.Contains(page, "No share links.") {
		t.Fatalf("a running interactive job's page lacks the share section:\n%s", page)
	}
	if code, page, _ := ann.do("POST", jobPath+"/shares", url.Values{"csrf": {csrf}, "expires_in": {"soon"}}); code != http.StatusBadRequest ||
		!strings.Contains(page, "expires_in") {
		t.Errorf("a bad expiry: %d\n%s", code, page)
	}
	code, page, _ := ann.do("POST", jobPath+"/shares", url.Values{"csrf": {csrf}, "label": {"for Carol"}, "expires_in": {"2h"}})
	m := regexp.MustCompile(`id="new-share-url" readonly size="60" value="([^"]+)"`).FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		t.Fatalf("create in the portal: %d\n%s", code, page)
	}
	link, err := url.Parse(html.UnescapeString(m[1]))
	tok := link.Query().Get("flotilla_token")
	if err != nil || link.Host != "j1.jobs.example" || !strings.HasPrefix(tok, structs.ShareTokenPrefix) {
		t.Fatalf("shown link %q", m[1])
	}
	j, err := adm.GetJob(ctx, jobID, true)
	if err != nil || len(j.Shares) != 1 || j.Shares[0].Label != "for Carol" || j.Shares[0].By != "ann" {
		t.Fatalf("shares on the job: %+v, %v", j.Shares, err)
	}
	_, page, _ = ann.do("GET", jobPath, nil)
	if !strings.Contains(page, `id="revoke-share-1"`) || strings.Contains(page, tok) {
		t.Errorf("the page lists the link without its token? %v\n%s", strings.Contains(page, tok), page)
	}
	if code, _, _ := ann.do("POST", jobPath+"/shares/share-1/revoke", url.Values{"csrf": {csrf}}); code != http.StatusSeeOther {
		t.Fatalf("revoke in the portal: %d", code)
	}
	if j, err := adm.GetJob(ctx, jobID, true); err != nil || len(j.Shares) != 0 {
		t.Errorf("after the revocation: %+v, %v", j.Shares, err)
	}
}
