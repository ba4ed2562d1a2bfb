package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestPortalSignal: a running job's page has the signal form; sending
// USR1 to the main process records it, and the timeline shows who sent
// what to which processes; a bad signal is refused with the reason and
// records nothing; a job not running has no form.
func TestPortalSignal(t *testing.T) {
	ctx, hubs, adm := startHubs(t, 1)
	seedUser(ctx, t, adm, "acme", "ann")
	seedCatalog(ctx, t, adm, structs.MachineType{Name: "n1", Cores: 4, Slots: 4, RAM: 8, ScaleMax: 2}, pubApp())
	ann := newBrowser(t, hubs.URL(0))
	csrf := ann.login("ann", "pw-ann-secret")
	jobPath := ann.submitRun("pub", csrf)
	jobID := strings.TrimPrefix(jobPath, "/ui/jobs/")
	if _, page, _ := ann.do("GET", jobPath, nil); strings.Contains(page, `id="signal-form"`) {
		t.Error("a queued job's page has the signal form")
	}
	for _, cmd := range []fsm.Command{
		&fsm.ClusterAgent{Cluster: "east", Agent: structs.AgentInfo{Features: []structs.AgentFeature{structs.FeatureJobSignals}}},
		&fsm.JobAssignment{ID: jobID, Cluster: "east", Time: time.Now()},
		&fsm.JobStateUpdate{ID: jobID, Cluster: "east", State: structs.JobRunning, Time: time.Now()},
	} {
		if _, err := hubs.Hub(0).Write(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	if _, page, _ := ann.do("GET", jobPath, nil); !strings.Contains(page, `id="signal-form"`) {
		t.Fatalf("a running job's page lacks the signal form:\n%s", page)
	}
	if code, page, _ := ann.do("POST", jobPath+"/signal", url.Values{"csrf": {csrf}, "signal": {"USR9"}}); code != http.StatusBadRequest ||
		!strings.Contains(page, "not a signal name") {
		t.Errorf("a bad signal: %d\n%s", code, page)
	}
	if code, _, _ := ann.do("POST", jobPath+"/signal", url.Values{"csrf": {csrf}, "signal": {"USR1"}, "scope": {"batch"}}); code != http.StatusSeeOther {
		t.Fatalf("signal from the portal: %d", code)
	}
	j, err := adm.GetJob(ctx, jobID, true)
	if err != nil || len(j.Signals) != 1 || j.Signals[0].Signal != 10 || j.Signals[0].Scope != structs.SignalBatch || j.Signals[0].By != "ann" {
		t.Fatalf("requests on the job: %+v, %v", j.Signals, err)
	}
	if _, page, _ := ann.do("GET", jobPath, nil); !strings.Contains(page, "Signal USR1 sent (by ann to the main process, request 1)") ||
		strings.Contains(page, `id="job-suspended"`) {
		t.Errorf("the timeline lacks the signal, or the job shows suspended:\n%s", page)
	}
	// TSTP suspends the job (JARVICE's "Suspended by user"), CONT resumes it.
	for _, c := range []struct {
		sig       string
		suspended bool
	}{{"TSTP", true}, {"CONT", false}} {
		if code, _, _ := ann.do("POST", jobPath+"/signal", url.Values{"csrf": {csrf}, "signal": {c.sig}}); code != http.StatusSeeOther {
			t.Fatalf("%s from the portal: %d", c.sig, code)
		}
		if _, page, _ := ann.do("GET", jobPath, nil); strings.Contains(page, `<span id="job-suspended">(suspended`) != c.suspended {
			t.Errorf("after %s the page shows suspended %v, want %v", c.sig, !c.suspended, c.suspended)
		}
	}
}
